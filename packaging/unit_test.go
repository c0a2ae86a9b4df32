package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the most `systemd-analyze security` may rate the unit.
const maxExposure = 2.0

// The unit's exposure, rated offline by the host's systemd-analyze. The lab
// test rates the installed unit again inside a booted systemd.
func TestUnitExposure(t *testing.T) {
	need(t, "systemd-analyze", "systemd")
	out, _ := runCode(t, "systemd-analyze", "security", "--offline=yes", "--no-pager", "files/rulekeeper.service")
	got := exposure(t, out)
	t.Logf("systemd-analyze security: exposure %.1f", got)
	if got > maxExposure {
		t.Fatalf("exposure %.1f > %.1f:\n%s", got, maxExposure, out)
	}
}

func exposure(t *testing.T, out string) float64 {
	t.Helper()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The settings the agent relies on, so that a later tightening of the
// hardening does not take one away unnoticed.
func TestUnitSettings(t *testing.T) {
	b, err := os.ReadFile("files/rulekeeper.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"Type=notify",
		"WatchdogSec=",
		"Restart=on-failure",
		"ExecStart=/usr/bin/rulekeeper run --config /etc/rulekeeper/agent.hcl",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"ProtectSystem=strict",
		"ReadWritePaths=-/etc/falco",
		"StateDirectory=rulekeeper",
		"StateDirectoryMode=0700",
		"NoNewPrivileges=yes",
		"PrivateTmp=yes",
		"ProtectHome=yes",
		"CapabilityBoundingSet=",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
		"SystemCallFilter=@system-service",
		"WantedBy=multi-user.target",
	} {
		if !strings.Contains(unit, "\n"+want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	// ProtectProc=invisible would hide a root Falco from an agent without
	// capabilities: its pid checks would find nothing.
	if strings.Contains(unit, "\nProtectProc=invisible") {
		t.Error("ProtectProc=invisible hides Falco's process from the agent")
	}
	need(t, "systemd-analyze", "systemd")
	// verify checks the syntax; the missing /usr/bin/rulekeeper is the only
	// complaint allowed on a machine where the package is not installed.
	out, _ := runCode(t, "systemd-analyze", "verify", "--man=no", "files/rulekeeper.service")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" && !strings.Contains(line, "/usr/bin/rulekeeper") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// The shell scripts parse with dash, the /bin/sh of Debian.
func TestScriptsSyntax(t *testing.T) {
	need(t, "dash", "dash")
	for _, f := range []string{"files/rulekeeper.init", "scripts/deb/postinst", "scripts/deb/prerm",
		"scripts/deb/postrm", "scripts/rpm/post", "scripts/rpm/preun", "scripts/rpm/postun"} {
		if out, code := runCode(t, "dash", "-n", f); code != 0 {
			t.Errorf("%s: %s", f, out)
		}
	}
}
