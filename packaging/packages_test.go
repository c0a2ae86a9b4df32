package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The files each package must carry, with their modes as dpkg-deb and rpm
// print them.
var wantDeb = map[string]string{
	"./usr/bin/rulekeeper":                     "-rwxr-xr-x",
	"./usr/bin/rulekeeperd":                    "-rwxr-xr-x",
	"./usr/share/man/man8/rulekeeperd.8.gz":    "-rw-r--r--",
	"./lib/systemd/system/rulekeeper.service":  "-rw-r--r--",
	"./etc/init.d/rulekeeper":                  "-rwxr-xr-x",
	"./etc/rulekeeper/agent.hcl":               "-rw-r--r--",
	"./var/lib/rulekeeper/":                    "drwx------",
	"./usr/share/doc/rulekeeper/copyright":     "-rw-r--r--",
	"./usr/share/doc/rulekeeper/changelog.gz":  "-rw-r--r--",
	"./usr/share/man/man1/rulekeeper.1.gz":     "-rw-r--r--",
	"./usr/share/lintian/overrides/rulekeeper": "-rw-r--r--",

	"./usr/share/rulekeeper/prometheus/rulekeeper-alerts.yaml": "-rw-r--r--",
	"./usr/share/rulekeeper/grafana/rulekeeper-fleet.json":     "-rw-r--r--",
	"./usr/share/rulekeeper/nginx/rulekeeper-git.conf":         "-rw-r--r--",
}

var wantRPM = map[string]string{
	"/usr/bin/rulekeeper":                        "-rwxr-xr-x",
	"/usr/bin/rulekeeperd":                       "-rwxr-xr-x",
	"/usr/share/man/man8/rulekeeperd.8.gz":       "-rw-r--r--",
	"/usr/lib/systemd/system/rulekeeper.service": "-rw-r--r--",
	"/etc/rulekeeper/agent.hcl":                  "-rw-r--r--",
	"/var/lib/rulekeeper":                        "drwx------",
	"/usr/share/man/man1/rulekeeper.1.gz":        "-rw-r--r--",

	"/usr/share/rulekeeper/prometheus/rulekeeper-alerts.yaml": "-rw-r--r--",
	"/usr/share/rulekeeper/grafana/rulekeeper-fleet.json":     "-rw-r--r--",
	"/usr/share/rulekeeper/nginx/rulekeeper-git.conf":         "-rw-r--r--",
}

func TestDebContents(t *testing.T) {
	need(t, "dpkg-deb", "dpkg")
	p := packages(t)
	if got := filepath.Base(p.deb); got != "rulekeeper_9.8.7_amd64.deb" {
		t.Errorf("deb file name %q, want rulekeeper_9.8.7_amd64.deb", got)
	}
	listing := run(t, "dpkg-deb", "-c", p.deb)
	checkListing(t, "deb", listing, wantDeb, 0, 5)

	info := run(t, "dpkg-deb", "-I", p.deb)
	for _, want := range []string{"Package: rulekeeper", "Version: 9.8.7", "Architecture: amd64",
		"Depends: init-system-helpers", " postinst ", " prerm ", " postrm ", " conffiles "} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	// Upgrades keep the operator's edits only to files dpkg knows as conffiles.
	dir := t.TempDir()
	run(t, "dpkg-deb", "-e", p.deb, dir)
	cf, err := os.ReadFile(filepath.Join(dir, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(cf)), []string{"/etc/init.d/rulekeeper", "/etc/rulekeeper/agent.hcl"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("conffiles = %v, want %v", got, want)
	}
}

func TestDebBinaryVersion(t *testing.T) {
	need(t, "dpkg-deb", "dpkg")
	p := packages(t)
	dir := t.TempDir()
	run(t, "dpkg-deb", "-x", p.deb, dir)
	if out := run(t, filepath.Join(dir, "usr/bin/rulekeeper"), "version"); strings.TrimSpace(out) != "rulekeeper 9.8.7" {
		t.Errorf("the packaged binary says %q, want \"rulekeeper 9.8.7\"", out)
	}
	if out := run(t, filepath.Join(dir, "usr/bin/rulekeeperd"), "--version"); strings.TrimSpace(out) != "rulekeeperd 9.8.7" {
		t.Errorf("the packaged daemon says %q, want \"rulekeeperd 9.8.7\"", out)
	}
	// The unit and the init script in the package are the ones in packaging/files.
	for pkgPath, src := range map[string]string{
		"lib/systemd/system/rulekeeper.service": "files/rulekeeper.service",
		"etc/init.d/rulekeeper":                 "files/rulekeeper.init",
		"etc/rulekeeper/agent.hcl":              "files/agent.hcl",

		"usr/share/rulekeeper/prometheus/rulekeeper-alerts.yaml": "prometheus/rulekeeper-alerts.yaml",
		"usr/share/rulekeeper/grafana/rulekeeper-fleet.json":     "grafana/rulekeeper-fleet.json",
		"usr/share/rulekeeper/nginx/rulekeeper-git.conf":         "nginx/rulekeeper-git.conf",
	} {
		a, _ := os.ReadFile(filepath.Join(dir, pkgPath))
		b, _ := os.ReadFile(src)
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s in the package differs from %s", pkgPath, src)
		}
	}
}

func TestRPMContents(t *testing.T) {
	need(t, "rpm", "rpm")
	p := packages(t)
	if got := filepath.Base(p.rpm); got != "rulekeeper-9.8.7-1.x86_64.rpm" {
		t.Errorf("rpm file name %q, want rulekeeper-9.8.7-1.x86_64.rpm", got)
	}
	info := run(t, "rpm", "-qip", p.rpm)
	for _, want := range []string{"Name        : rulekeeper", "Version     : 9.8.7", "Release     : 1",
		"Architecture: x86_64", "License     : Apache-2.0"} {
		if !strings.Contains(info, want) {
			t.Errorf("rpm -qip lacks %q:\n%s", want, info)
		}
	}
	checkListing(t, "rpm", run(t, "rpm", "-qlvp", p.rpm), wantRPM, 0, 8)
	if cf := strings.TrimSpace(run(t, "rpm", "-qcp", p.rpm)); cf != "/etc/rulekeeper/agent.hcl" {
		t.Errorf("rpm config files = %q, want /etc/rulekeeper/agent.hcl", cf)
	}
	// noreplace: an upgrade keeps the edited file and puts the new one beside it.
	if flags := run(t, "rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", p.rpm); !regexp.MustCompile(`(?m)^/etc/rulekeeper/agent.hcl cn$`).MatchString(flags) {
		t.Errorf("agent.hcl is not %%config(noreplace):\n%s", flags)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", p.rpm)
	for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "try-restart rulekeeper.service"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm scripts lack %q", want)
		}
	}
}

// checkListing compares a tar-like listing (mode first, path in column
// pathCol) with the wanted paths and modes.
func checkListing(t *testing.T, kind, listing string, want map[string]string, modeCol, pathCol int) {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) > pathCol {
			got[f[pathCol]] = f[modeCol]
		}
	}
	for path, mode := range want {
		if got[path] != mode {
			t.Errorf("%s: %s has mode %q, want %q\n%s", kind, path, got[path], mode, listing)
		}
	}
}

// lintian reports nothing on the .deb but the two tags the package
// overrides on purpose (files/lintian-overrides says why).
func TestLintian(t *testing.T) {
	need(t, "lintian", "lintian")
	p := packages(t)
	out, code := runCode(t, "lintian", "--pedantic", "--info", "--fail-on", "error,warning,info,pedantic", p.deb)
	var tags []string
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 2 && line[1] == ':' && strings.Contains("EWIPX", line[:1]) {
			tags = append(tags, line)
		}
	}
	if code != 0 || len(tags) > 0 {
		t.Fatalf("lintian exit %d, tags:\n%s\n%s", code, strings.Join(tags, "\n"), out)
	}
}

func TestBuildBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", nil, 2, "usage: go run ./packaging --out DIR"},
		{"stray argument", []string{"--out", t.TempDir(), "extra"}, 2, "usage:"},
		{"bad version", []string{"--out", t.TempDir(), "--version", "v1.0"}, 1, `--version "v1.0": want a version such as 1.2.3`},
		{"bad arch", []string{"--out", t.TempDir(), "--arch", "386"}, 1, `--arch "386": want amd64 or arm64`},
		{"out is a file", []string{"--out", "helpers_test.go"}, 1, "creating --out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := runMain(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), c.code, c.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("a failed build printed packages: %q", stdout.String())
			}
		})
	}
}

func TestDescribeVersion(t *testing.T) {
	if v := describeVersion(t.TempDir()); v != defaultVersion {
		t.Errorf("outside git: %q, want %q", v, defaultVersion)
	}
}
