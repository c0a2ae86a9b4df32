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

func falcoLog() string {
	b, _ := os.ReadFile(falcoservice.LogFile)
	return string(b)
}

// falcoLogLines is what Falco wrote to its log since, to the second.
func falcoLogLines(since time.Time) []initsys.LogLine {
	var ls []initsys.LogLine
	for _, l := range strings.Split(falcoLog(), "\n") {
		ts, msg, ok := strings.Cut(l, ": ")
		at, err := time.ParseInLocation(time.ANSIC, ts, time.Local)
		if ok && err == nil && !at.Before(since.Truncate(time.Second)) {
			ls = append(ls, initsys.LogLine{At: at, Text: msg})
		}
	}
	return ls
}

func agentLog() string {
	b, _ := os.ReadFile("/var/log/rulekeeper.log")
	return string(b)
}

func agentPid() string { return pidFile("/run/rulekeeper.pid") }

func pidFile(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// From a bare node to a converged one on a node without systemd, the way
// cloud-init does it: agent.hcl first, then the package.
func TestLabSysVInstall(t *testing.T) {
	needLab(t, "sysv")
	need(t, "dpkg", "dpkg")
	need(t, "service", "init-system-helpers")
	if exists("/run/systemd/system") {
		t.Fatal("/run/systemd/system exists: this is not the SysV container")
	}
	old, new := labDebs(t)
	// The container runs once and is thrown away; still, leave it clean.
	cleanNode(t, func() { exec.Command("service", "falco", "stop").Run(); falcoservice.Remove() })
	// The exam's Falco, 0.32.1, with its default config (it watches its
	// files), from an init script in the style of Falco's old packages.
	n := installFalco(t, "0.32.1")
	vendor, err := os.ReadFile("/etc/falco/falco_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/init.d/falco", []byte(n.InitScript()), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "service", "falco", "start")
	eventually(t, 20*time.Second, "Falco starts from its init script", func() string {
		if !strings.Contains(falcoLog(), "Starting internal webserver") {
			return "not up yet; its log:\n" + falcoLog()
		}
		return ""
	})
	// A one-shot container has no init and no runlevel, so invoke-rc.d
	// would refuse every start; a booted sysvinit in runlevel 2 allows it,
	// and so does this policy.
	if err := os.WriteFile("/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove("/usr/sbin/policy-rc.d")

	policyRepo(t, labPolicyDir)
	url := serveGit(t, labPolicyDir)
	writeConfig(t, labAgentConfig(url))
	time.Sleep(time.Second) // a second between Falco's start and the agent's, for its log's times

	start := time.Now()
	run(t, "dpkg", "-i", "--force-confold", old)
	eventually(t, 30*time.Second, "the agent applies the exam's policy", func() string {
		if out, code := runCode(t, "service", "rulekeeper", "status"); code != 0 {
			return fmt.Sprintf("service rulekeeper status: %d %s\n%s", code, out, agentLog())
		}
		if why := examApplied(); why != "" {
			return why + "\nagent log:\n" + agentLog()
		}
		return ""
	})
	t.Logf("converged %.1f s after dpkg -i", time.Since(start).Seconds())
	waitApplied(t, start)
	time.Sleep(5 * time.Second) // polls that find the same commit leave Falco alone
	if why := rulesLoaded(falcoLogLines(start)); why != "" {
		t.Fatalf("after the agent's pass: %s\n%s", why, falcoLog())
	}
	exactlyOneRestart(t, "the agent's first pass and the polls after it", falcoLogLines(start))
	if l := rcLinks(); len(l) == 0 {
		t.Error("no rc.d links: the agent would not start at boot")
	}

	// Drift: the vendor's file put back by hand (replaced whole, as a
	// package manager or an editor does), and the agent applies the policy
	// again; Falco, still the same process, runs the repaired file.
	falcoPid := pidFile("/var/run/falco.pid")
	time.Sleep(time.Second) // Falco's log has times to the second
	drifted := time.Now()
	os.WriteFile("/etc/falco/.falco_rules.yaml.new", vendor, 0o644)
	os.Rename("/etc/falco/.falco_rules.yaml.new", "/etc/falco/falco_rules.yaml")
	if examApplied() == "" {
		t.Fatal("the vendor's file carries the exam's text already")
	}
	eventually(t, 20*time.Second, "the agent undoes a hand edit", examApplied)
	waitApplied(t, drifted)
	time.Sleep(3 * time.Second)
	if why := rulesLoaded(falcoLogLines(drifted)); why != "" {
		t.Errorf("after the repair: %s\n%s", why, falcoLog())
	}
	// The hand edit restarts Falco (its own watch), and the repair once
	// more unless it lands before that restart, which then takes both.
	if hup, _ := falcoRestarts(falcoLogLines(drifted)); hup < 1 || hup > 2 {
		t.Errorf("after the hand edit and its repair: want one or two restarts in process, got %d\n%s", hup, falcoLog())
	}
	if now := pidFile("/var/run/falco.pid"); now != falcoPid || now == "" {
		t.Errorf("falco's pid went from %s to %s: restarted by its init script, not in process", falcoPid, now)
	}

	// Upgrade: the edited agent.hcl stays, the new binary runs.
	cfg, _ := os.ReadFile("/etc/rulekeeper/agent.hcl")
	writeConfig(t, string(cfg)+operatorEdit)
	pidBefore := agentPid()
	run(t, "dpkg", "-i", new)
	if after, _ := os.ReadFile("/etc/rulekeeper/agent.hcl"); !strings.Contains(string(after), "edited by the operator") {
		t.Errorf("the upgrade lost the operator's edit of agent.hcl:\n%s", after)
	}
	eventually(t, 20*time.Second, "the new agent runs after the upgrade", func() string {
		pid := agentPid()
		if pid == "" || pid == pidBefore {
			return fmt.Sprintf("pid %q (before %q)\n%s", pid, pidBefore, agentLog())
		}
		exe, err := os.Readlink("/proc/" + pid + "/exe")
		if err != nil || exe != "/usr/bin/rulekeeperd" { // `rulekeeper run` became the daemon
			return fmt.Sprintf("pid %s runs %q (%v)", pid, exe, err)
		}
		return ""
	})
	if v := installedVersion(t); v != "rulekeeper "+labNew {
		t.Errorf("after the upgrade the binary says %q", v)
	}

	// Remove: stopped, the program gone; configuration and state stay.
	pid := agentPid()
	run(t, "dpkg", "-r", "rulekeeper")
	if pid != "" && exists("/proc/"+pid) {
		t.Errorf("the agent (pid %s) still runs after dpkg -r", pid)
	}
	mustBeGone(t, "dpkg -r", "/usr/bin/rulekeeper", "/usr/bin/rulekeeperd")
	mustExist(t, "dpkg -r", "/etc/rulekeeper/agent.hcl", "/var/lib/rulekeeper", "/etc/init.d/rulekeeper")

	// Purge: nothing of rulekeeper is left.
	run(t, "dpkg", "-P", "rulekeeper")
	mustBeGone(t, "dpkg -P", "/etc/rulekeeper", "/var/lib/rulekeeper", "/etc/init.d/rulekeeper", "/var/log/rulekeeper.log")
	if l := rcLinks(); len(l) > 0 {
		t.Errorf("after dpkg -P, rc.d links remain: %v", l)
	}
}
