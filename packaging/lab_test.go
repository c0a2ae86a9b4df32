package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// The install tests run inside the lab's containers (packaging/lab), on the
// packages of versions labOld and labNew built on the host beforehand:
//
//	go run ./packaging --out dist/packages --version 0.1.0
//	go run ./packaging --out dist/packages --version 0.2.0
//	bash packaging/lab/systemd-lab.sh up
//	export GOTMPDIR=$(bash packaging/lab/systemd-lab.sh env)
//	go test -count=1 -exec "$PWD/packaging/lab/systemd-lab.sh exec" -run '^TestLabSystemd' ./packaging/
//	go test -count=1 -exec "$PWD/packaging/lab/systemd-lab.sh sysv" -run '^TestLabSysV' ./packaging/

// Where the tests put the exam's policy repository: not under /tmp, which
// the hardened unit sees privately.
const labPolicyDir = "/srv/rulekeeper-lab-policy"

const newShell = "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository"

// needLab fails (never skips) a test that needs the lab's real init system.
func needLab(t *testing.T, kind string) {
	t.Helper()
	if got := os.Getenv("RULEKEEPER_LAB"); got != kind {
		t.Fatalf("this test runs inside the lab's %s container (RULEKEEPER_LAB is %q); see the commands at the top of packaging/lab_test.go", kind, got)
	}
}

// labDebs returns the two packages to install, built on the host.
func labDebs(t *testing.T) (old, new string) {
	t.Helper()
	old = filepath.Join(*labPackages, "rulekeeper_"+labOld+"_amd64.deb")
	new = filepath.Join(*labPackages, "rulekeeper_"+labNew+"_amd64.deb")
	for _, p := range []string{old, new} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: build the packages on the host first: go run ./packaging --out dist/packages --version %s (and %s)", err, labOld, labNew)
		}
	}
	return old, new
}

// cleanNode checks that nothing of an earlier run is left (the systemd
// container's root outlives a test), and purges what this test installs.
func cleanNode(t *testing.T, undo func()) {
	t.Helper()
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "rulekeeper").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatalf("rulekeeper is already installed in the lab (%s): dpkg -P rulekeeper there first", out)
	}
	for _, p := range []string{"/etc/falco", labPolicyDir, "/etc/rulekeeper", "/var/lib/rulekeeper"} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s is left from an earlier run: remove it in the lab first", p)
		}
	}
	t.Cleanup(func() {
		exec.Command("dpkg", "--purge", "rulekeeper").Run()
		undo()
		for _, p := range []string{"/etc/falco", labPolicyDir, "/etc/rulekeeper", "/var/lib/rulekeeper"} {
			os.RemoveAll(p)
		}
	})
}

// installFalco puts the real Falco of version on the node with its own
// default config (it watches its files; metrics off): /usr/bin/falco and
// /etc/falco.
func installFalco(t *testing.T, version string) falcoservice.Node {
	t.Helper()
	return falcoservice.Install(t, falcoservice.Setup{Version: version, Watch: true, Port: gitserve.FreePort(t)})
}

// labAgentConfig is the agent.hcl the lab tests install: the policy from the
// lab's git server, polled often, the node's real Falco checking the files.
func labAgentConfig(url string) string {
	return fmt.Sprintf(`source {
  url      = %q
  branch   = "main"
  interval = "2s"
}

falco {
  binary = "/usr/bin/falco"
}

drift {
  mode = "restore"
}
`, url)
}

func writeConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.MkdirAll("/etc/rulekeeper", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/rulekeeper/agent.hcl", []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// eventually polls check until it returns "" or the time is up.
func eventually(t *testing.T, d time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	why := ""
	for time.Now().Before(deadline) {
		if why = check(); why == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %s", what, d, why)
}

// examApplied: the rule's output carries the exam's text.
func examApplied() string {
	b, err := os.ReadFile("/etc/falco/falco_rules.yaml")
	if err != nil {
		return err.Error()
	}
	if !strings.Contains(string(b), newShell) {
		return "falco_rules.yaml does not carry " + newShell
	}
	return ""
}

// waitApplied waits until the agent's status says a pass wrote the files
// after since and saw Falco come back with them: the file is written before
// Falco is reloaded and checked, and the tests must not stop the agent in
// between.
func waitApplied(t *testing.T, since time.Time) {
	t.Helper()
	eventually(t, 30*time.Second, "the agent finishes its pass", func() string {
		st, err := agent.ReadStatus("/var/lib/rulekeeper")
		switch {
		case err != nil:
			return err.Error()
		case st == nil:
			return "no status yet"
		case st.LastError != nil && st.LastError.Time.After(since):
			return "the pass failed: " + st.LastError.Message
		case !st.AppliedAt.After(since):
			return fmt.Sprintf("applied at %v, not after %v", st.AppliedAt, since)
		}
		return ""
	})
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func mustExist(t *testing.T, when string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if !exists(p) {
			t.Errorf("after %s, %s is gone; want it kept", when, p)
		}
	}
}

func mustBeGone(t *testing.T, when string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if exists(p) {
			t.Errorf("after %s, %s is still there", when, p)
		}
	}
}

func rcLinks() []string {
	m, _ := filepath.Glob("/etc/rc?.d/[SK][0-9][0-9]rulekeeper")
	return m
}

// editConfig appends an operator's edit to agent.hcl: an upgrade must keep it.
const operatorEdit = "\n# edited by the operator\nmetrics {\n  listen = \"127.0.0.1:9464\"\n}\n"

func installedVersion(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(run(t, "/usr/bin/rulekeeper", "version"))
}

// falcoRestarts counts Falco's restarts in what it logged: in process
// (`SIGHUP received, restarting`: a signal or its own file watch) and new
// processes (systemd's `Started falco.service`).
func falcoRestarts(ls []initsys.LogLine) (inProcess, started int) {
	for _, l := range ls {
		switch {
		case strings.Contains(l.Text, "SIGHUP received, restarting"):
			inProcess++
		case strings.HasPrefix(l.Text, "Started falco.service"):
			started++
		}
	}
	return inProcess, started
}

// rulesLoaded reports whether Falco loaded falco_rules.yaml in these lines
// (0.32.1: `Loading rules from file PATH:`; 0.40: `   PATH | schema
// validation: ok`) and ran it: no error or refused restart after.
func rulesLoaded(ls []initsys.LogLine) string {
	const p = "/etc/falco/falco_rules.yaml"
	loaded := false
	for _, l := range ls {
		switch {
		case strings.Contains(l.Text, "Loading rules from file "+p) || strings.Contains(l.Text, p+" | schema validation: ok"):
			loaded = true
		case strings.Contains(l.Text, "hot restart failure") || strings.Contains(l.Text, "Error"):
			return "falco refused the rules: " + l.Text
		}
	}
	if !loaded {
		return "falco has not loaded " + p
	}
	return ""
}

// exactlyOneRestart checks that these lines show exactly one restart of
// Falco, in process or by its init system.
func exactlyOneRestart(t *testing.T, what string, ls []initsys.LogLine) {
	t.Helper()
	hup, started := falcoRestarts(ls)
	if hup+started != 1 {
		var b strings.Builder
		for _, l := range ls {
			fmt.Fprintf(&b, "  %s %s\n", l.At.Format("15:04:05.000000"), l.Text)
		}
		t.Errorf("%s: want exactly one restart of Falco, got %d in process and %d starts:\n%s", what, hup, started, b.String())
	}
}
