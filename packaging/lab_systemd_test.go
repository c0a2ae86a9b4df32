//go:build lab

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
)

// falcoUnit runs the real Falco 0.40.0 as falco.service with its default
// config (it watches its own files, metrics off), the unit of Falco 0.36+
// (ExecReload=kill -1 $MAINPID): the node of a user's report.
func falcoUnit(t *testing.T) falcoservice.Node {
	t.Helper()
	n := installFalco(t, "0.40.0")
	if err := os.WriteFile("/etc/systemd/system/falco.service", []byte(n.Unit(true)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run(t, "systemctl", "daemon-reload")
	run(t, "systemctl", "restart", "falco.service")
	eventually(t, 20*time.Second, "falco.service loads its rules", func() string {
		return rulesLoaded(falcoJournal(t, start))
	})
	return n
}

func undoFalcoUnit() {
	exec.Command("systemctl", "stop", "falco.service").Run()
	os.Remove("/etc/systemd/system/falco.service")
	exec.Command("systemctl", "daemon-reload").Run()
	exec.Command("systemctl", "reset-failed", "falco.service", "rulekeeper.service").Run()
	falcoservice.Remove()
}

// falcoJournal is what falco.service logged since, each line once.
func falcoJournal(t *testing.T, since time.Time) []initsys.LogLine {
	t.Helper()
	ls, err := initsys.UnitLog(t.Context(), "falco.service", since)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func agentJournal() string {
	out, _ := exec.Command("journalctl", "-u", "rulekeeper.service", "-n", "40", "--no-pager").CombinedOutput()
	return string(out)
}

func unitState(t *testing.T, prop string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "systemctl", "show", "-p", prop, "--value", "rulekeeper.service"))
}

// From a bare node to a converged one with the package, on a real systemd:
// install, configure, converge, drift, upgrade, remove, purge.
func TestLabSystemdInstall(t *testing.T) {
	needLab(t, "systemd")
	need(t, "dpkg", "dpkg")
	old, new := labDebs(t)
	cleanNode(t, undoFalcoUnit)
	falcoUnit(t)
	vendor, err := os.ReadFile("/etc/falco/falco_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policyRepo(t, labPolicyDir)
	url := serveGit(t, labPolicyDir)

	// A first install without a policy source enables the unit and says
	// what to do, rather than start an agent that can only fail.
	out := run(t, "dpkg", "-i", old)
	if !strings.Contains(out, "enabled but not started") {
		t.Errorf("dpkg -i of an unconfigured node does not say the agent waits for agent.hcl:\n%s", out)
	}
	if got := strings.TrimSpace(run(t, "systemctl", "is-enabled", "rulekeeper.service")); got != "enabled" {
		t.Errorf("rulekeeper.service is %s after install, want enabled", got)
	}
	if s := unitState(t, "ActiveState"); s != "inactive" {
		t.Errorf("the unconfigured agent is %s, want inactive", s)
	}
	mustExist(t, "install", "/usr/bin/rulekeeper", "/lib/systemd/system/rulekeeper.service", "/etc/init.d/rulekeeper",
		"/etc/rulekeeper/agent.hcl", "/var/lib/rulekeeper")
	if fi, err := os.Stat("/var/lib/rulekeeper"); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("/var/lib/rulekeeper: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}

	// The operator's one file, then the agent converges the node.
	writeConfig(t, labAgentConfig(url))
	start := time.Now()
	run(t, "systemctl", "restart", "rulekeeper.service")
	eventually(t, 30*time.Second, "the agent applies the exam's policy", func() string {
		if s := unitState(t, "ActiveState"); s != "active" {
			return "rulekeeper.service is " + s + "\n" + agentJournal()
		}
		if why := examApplied(); why != "" {
			return why + "\nagent log:\n" + agentJournal()
		}
		return ""
	})
	t.Logf("converged %.1f s after the start", time.Since(start).Seconds())
	waitApplied(t, start)
	if why := rulesLoaded(falcoJournal(t, start)); why != "" {
		t.Fatalf("after the agent's pass: %s", why)
	}
	// Polls that find the same commit change nothing and leave Falco alone.
	time.Sleep(5 * time.Second)
	exactlyOneRestart(t, "the agent's first pass and the polls after it", falcoJournal(t, start))
	// The hardening, rated by the systemd that runs the unit.
	sec, _ := runCode(t, "systemd-analyze", "security", "--no-pager", "rulekeeper.service")
	got := exposure(t, sec)
	t.Logf("systemd-analyze security rulekeeper.service (in the lab): %.1f", got)
	if got > maxExposure {
		t.Errorf("exposure %.1f > %.1f:\n%s", got, maxExposure, sec)
	}

	// Drift: the vendor's file put back by hand, and the agent applies the
	// policy again.
	drifted := time.Now()
	// Replaced whole, as a package manager or an editor does.
	os.WriteFile("/etc/falco/.falco_rules.yaml.new", vendor, 0o644)
	os.Rename("/etc/falco/.falco_rules.yaml.new", "/etc/falco/falco_rules.yaml")
	if examApplied() == "" {
		t.Fatal("the vendor's file carries the exam's text already")
	}
	eventually(t, 20*time.Second, "the agent undoes a hand edit", examApplied)
	waitApplied(t, drifted)
	time.Sleep(3 * time.Second)
	// The hand edit restarts Falco (its own watch), and the agent's repair
	// once more, unless it lands before Falco's restart, which then takes
	// both; never more, and never a restart by systemd.
	if hup, started := falcoRestarts(falcoJournal(t, drifted)); hup < 1 || hup > 2 || started != 0 {
		t.Errorf("after the hand edit and its repair: want one or two restarts in process, got %d and %d starts", hup, started)
	}
	if why := rulesLoaded(falcoJournal(t, drifted)); why != "" {
		t.Errorf("after the repair: %s", why)
	}

	// Upgrade: the edited agent.hcl stays, the agent restarts on the new binary.
	cfg, _ := os.ReadFile("/etc/rulekeeper/agent.hcl")
	writeConfig(t, string(cfg)+operatorEdit)
	pidBefore := unitState(t, "MainPID")
	cmd := exec.Command("dpkg", "-i", new)
	cmd.Stdin = nil // no terminal: a conffile prompt would fail the upgrade
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile("/etc/rulekeeper/agent.hcl"); !strings.Contains(string(after), "edited by the operator") {
		t.Errorf("the upgrade lost the operator's edit of agent.hcl:\n%s", after)
	}
	if v := installedVersion(t); v != "rulekeeper "+labNew {
		t.Errorf("after the upgrade the binary says %q", v)
	}
	eventually(t, 20*time.Second, "the agent runs again after the upgrade", func() string {
		if s, pid := unitState(t, "ActiveState"), unitState(t, "MainPID"); s != "active" || pid == pidBefore || pid == "0" {
			return fmt.Sprintf("state %s, main pid %s (before %s)\n%s", s, pid, pidBefore, agentJournal())
		}
		return ""
	})

	if why := examApplied(); why != "" {
		t.Errorf("after the upgrade: %s\n%s", why, agentJournal())
	}

	// Remove: stopped, the program gone; configuration and state stay.
	run(t, "dpkg", "-r", "rulekeeper")
	if s := unitState(t, "ActiveState"); s == "active" {
		t.Errorf("rulekeeper.service is still active after dpkg -r")
	}
	mustBeGone(t, "dpkg -r", "/usr/bin/rulekeeper", "/lib/systemd/system/rulekeeper.service")
	mustExist(t, "dpkg -r", "/etc/rulekeeper/agent.hcl", "/var/lib/rulekeeper", "/etc/init.d/rulekeeper")
	if why := examApplied(); why != "" {
		t.Errorf("dpkg -r changed Falco's rules: %s\n%s", why, agentJournal())
	}

	// Purge: nothing of rulekeeper is left.
	run(t, "dpkg", "-P", "rulekeeper")
	mustBeGone(t, "dpkg -P", "/etc/rulekeeper", "/var/lib/rulekeeper", "/etc/init.d/rulekeeper",
		"/etc/systemd/system/multi-user.target.wants/rulekeeper.service")
	if l := rcLinks(); len(l) > 0 {
		t.Errorf("after dpkg -P, rc.d links remain: %v", l)
	}
}
