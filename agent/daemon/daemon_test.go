package daemon

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// The daemon converges the exam from a git repository, then follows a new
// commit; status tells the commit.
func TestDaemonConvergesAndFollowsCommits(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{})
	l.start()
	l.waitConverged(10 * time.Second)
	first := l.git("rev-parse", "HEAD")
	e := l.hook.wait(t, 5*time.Second, "applied", func(e hookEvent) bool { return e.f("commit") == first })
	if !strings.Contains(e.Output, "applied the policy at commit "+first+": "+rulesPath) || e.f("reasons") != "policy" {
		t.Errorf("applied alert: %q %v", e.Output, e.OutputFields)
	}

	next := l.commit("policy.hcl", examPolicy(t, "SHELL SPAWNED!"))
	testwait.Eventually(t, 10*time.Second, "the new commit's prefix is not applied", func() bool {
		return strings.Contains(l.rules(), "  output: >\n    SHELL SPAWNED! user_id=%user.uid")
	})
	l.hook.wait(t, 5*time.Second, "applied", func(e hookEvent) bool { return e.f("commit") == next })
	testwait.Eventually(t, 5*time.Second, "status does not name the new commit", func() bool {
		st, err := agent.ReadStatus(l.host("/var/lib/rulekeeper"))
		return err == nil && st != nil && st.Commit == next
	})
	if n := len(l.hook.events("drift")) + len(l.hook.events("tamper")); n != 0 {
		t.Fatalf("the agent's own writes were reported as edits:\n%s", l.hook.dump())
	}
}

// A managed value edited on the node is put back in mode restore, and an
// alert names the file, the rule, the old and new text.
func TestDriftRestored(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"in place", "rename"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, labOpts{interval: "1h"})
			l.start()
			l.waitConverged(10 * time.Second)
			want := l.rules()
			l.writeRules(how, replaceOnce(t, want, "NEW SHELL!!!", "OLD SHELL"))
			testwait.Eventually(t, 5*time.Second, "the drift was not restored", func() bool { return l.rules() == want })
			e := l.hook.wait(t, 5*time.Second, "drift", nil)
			if e.f("file") != rulesPath || e.f("rule") != examRule || e.f("restored") != "true" ||
				!strings.Contains(e.f("old"), "NEW SHELL!!!") || !strings.Contains(e.f("new"), "OLD SHELL") {
				t.Fatalf("drift alert: %+v", e.OutputFields)
			}
			time.Sleep(300 * time.Millisecond) // the restore's own write must not be reported
			if n := len(l.hook.events("drift")); n != 1 || len(l.hook.events("tamper")) != 0 {
				t.Fatalf("want one drift alert and no tamper:\n%s", l.hook.dump())
			}
		})
	}
}

// In mode alert the edit stays; it is reported once, not on every poll.
func TestDriftAlertOnly(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"in place", "rename"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, labOpts{mode: agent.DriftAlert, interval: "100ms"})
			l.start()
			l.waitConverged(10 * time.Second)
			drifted := replaceOnce(t, l.rules(), "NEW SHELL!!!", "OLD SHELL")
			l.writeRules(how, drifted)
			e := l.hook.wait(t, 5*time.Second, "drift", nil)
			if e.f("restored") != "false" || e.f("rule") != examRule {
				t.Fatalf("drift alert: %+v", e.OutputFields)
			}
			time.Sleep(time.Second) // ten polls
			if l.rules() != drifted {
				t.Fatal("mode alert restored the file")
			}
			if n := len(l.hook.events("drift")); n != 1 {
				t.Fatalf("%d drift alerts, want 1:\n%s", n, l.hook.dump())
			}
			st, _ := agent.ReadStatus(l.host("/var/lib/rulekeeper"))
			if st == nil || st.LastDrift == nil || st.LastDrift.Rule != examRule {
				t.Fatalf("status: %+v", st)
			}
		})
	}
}

// An edit outside the managed values is tampering: reported with a diff in
// both modes, and left as it is.
func TestTamperReported(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{agent.DriftRestore, agent.DriftAlert} {
		for _, tc := range []struct{ name, old, new, inDiff string }{
			{"condition blanked", sshCond, "  condition: never_true\n", "+  condition: never_true"},
			{"rule disabled", "  tags: [container, shell, mitre_execution]\n", "  tags: [container, shell, mitre_execution]\n  enabled: false\n", "+  enabled: false"},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				l := newLab(t, labOpts{mode: mode, interval: "100ms"})
				l.start()
				l.waitConverged(10 * time.Second)
				tampered := replaceOnce(t, l.rules(), tc.old, tc.new)
				l.writeRules("rename", tampered)
				e := l.hook.wait(t, 5*time.Second, "tamper", nil)
				if e.f("file") != rulesPath || !strings.Contains(e.f("diff"), tc.inDiff) {
					t.Fatalf("tamper alert: %+v", e.OutputFields)
				}
				time.Sleep(700 * time.Millisecond)
				if l.rules() != tampered {
					t.Fatal("the tampered bytes were changed")
				}
				if n, d := len(l.hook.events("tamper")), len(l.hook.events("drift")); n != 1 || d != 0 {
					t.Fatalf("want exactly one tamper alert:\n%s", l.hook.dump())
				}
			})
		}
	}
}

// A new vendor file (a package upgrade) is taken for the new original and
// the policy goes back on top of it.
func TestUpgradeReapplied(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	l.start()
	l.waitConverged(10 * time.Second)
	vendor, err := os.ReadFile(examDir + "/node" + rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	upgraded := replaceOnce(t, string(vendor), sshCond, "  condition: (inbound_outbound) and ssh_port and not allowed_ssh_hosts and not proc.name=sshd\n")
	l.writeRules("rename", upgraded)
	want := replaceOnce(t, upgraded, "  output: >\n    A shell was spawned in a container", "  output: >\n"+examLine+"    A shell was spawned in a container")
	testwait.Eventually(t, 5*time.Second, "the policy was not re-applied on the new vendor file", func() bool { return l.rules() == want })
	l.hook.wait(t, 5*time.Second, "applied", func(e hookEvent) bool { return e.f("reason") == "upgrade" })
	time.Sleep(300 * time.Millisecond)
	if n := len(l.hook.events("tamper")) + len(l.hook.events("drift")); n != 0 {
		t.Fatalf("an upgrade was reported as drift or tampering:\n%s", l.hook.dump())
	}
}

// A commit with an invalid policy writes nothing; the refusal is told once;
// drift is still restored with the last good policy; a fixed commit applies.
func TestInvalidCommitKeepsLastGood(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "100ms"})
	l.start()
	l.waitConverged(10 * time.Second)
	good := l.git("rev-parse", "HEAD")
	converged := l.rules()
	bad := l.commit("policy.hcl", replaceOnce(t, examText(t), "user_id=%user.uid", "user_id=%user.uidd"))
	e := l.hook.wait(t, 5*time.Second, "refused", nil)
	if e.f("commit") != bad || !strings.Contains(e.f("diagnostics"), "user.uidd") || !strings.Contains(e.f("diagnostics"), "on policy.hcl line 12") {
		t.Fatalf("refused alert: %+v", e.OutputFields)
	}
	// The refused head is remembered: the polls after it run the last good
	// policy's cheap path, without planning the head again.
	// (The pass that refused it converged with the last good one after.)
	testwait.Eventually(t, 5*time.Second, "status does not show the refusal", func() bool {
		st, _ := agent.ReadStatus(l.host("/var/lib/rulekeeper"))
		return st != nil && st.Refused != nil
	})
	time.Sleep(300 * time.Millisecond)
	var before time.Time
	if st, _ := agent.ReadStatus(l.host("/var/lib/rulekeeper")); st != nil {
		before = st.ConvergedAt
	}
	time.Sleep(time.Second) // ten polls
	if st, _ := agent.ReadStatus(l.host("/var/lib/rulekeeper")); st == nil || !st.ConvergedAt.Equal(before) {
		t.Errorf("the polls after the refusal planned again: converged at %v, then %+v", before, st)
	}
	if n := len(l.hook.events("refused")); n != 1 {
		t.Fatalf("%d refused alerts, want 1:\n%s", n, l.hook.dump())
	}
	if l.rules() != converged {
		t.Fatal("the invalid commit changed the rules file")
	}
	st, _ := agent.ReadStatus(l.host("/var/lib/rulekeeper"))
	if st == nil || st.Commit != good || st.Refused == nil || st.Refused.Commit != bad {
		t.Fatalf("status: %+v", st)
	}
	// Drift is still put back, by the last good policy.
	l.writeRules("in place", replaceOnce(t, converged, "NEW SHELL!!!", "OLD SHELL"))
	testwait.Eventually(t, 5*time.Second, "drift not restored while the head commit is invalid", func() bool { return l.rules() == converged })

	fixed := l.commit("policy.hcl", examPolicy(t, "FIXED!"))
	testwait.Eventually(t, 10*time.Second, "the fixed commit was not applied", func() bool {
		return strings.Contains(l.rules(), "    FIXED! user_id=%user.uid")
	})
	testwait.Eventually(t, 5*time.Second, "status", func() bool {
		st, _ := agent.ReadStatus(l.host("/var/lib/rulekeeper"))
		return st != nil && st.Commit == fixed && st.Refused == nil
	})
}

// Triggers that arrive during a pass queue exactly one more pass.
func TestSingleFlight(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	d, err := New(l.config(), Options{Root: l.root})
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	var mu sync.Mutex
	inPass := 0
	d.beforePass = func() {
		mu.Lock()
		inPass++
		if inPass > 1 {
			t.Error("two passes at once")
		}
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		inPass--
		mu.Unlock()
	}
	l.startDaemon(d)
	<-entered // the first pass, at start
	for range 50 {
		d.Trigger()
	}
	close(release)
	<-entered // the one queued pass
	time.Sleep(200 * time.Millisecond)
	if n := d.Passes(); n != 2 {
		t.Fatalf("%d passes, want 2", n)
	}
	// A trigger after the passes gives one more.
	d.Trigger()
	<-entered
	time.Sleep(100 * time.Millisecond)
	if n := d.Passes(); n != 3 {
		t.Fatalf("%d passes, want 3", n)
	}
}

// A second daemon on the same state directory refuses to start.
func TestOneDaemonPerStateDir(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	l.start()
	l.waitConverged(10 * time.Second)
	if _, err := New(l.config(), Options{Root: l.root}); err == nil || !strings.Contains(err.Error(), "another rulekeeper daemon") {
		t.Fatalf("second daemon: %v", err)
	}
}

// A stopped daemon frees the state directory at once, even while a
// process it forked still holds the lock file's descriptor: a child that
// has not reached its exec yet (falco -V, a reload command) has a copy of
// it, and a close alone would leave the lock taken until the child lets go.
// The child here holds the copy for its whole life, so the test does not
// depend on catching that instant.
func TestStoppedDaemonFreesTheLockAChildStillHolds(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	d, err := New(l.config(), Options{Root: l.root, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "60")
	child.ExtraFiles = []*os.File{d.lock.f}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	l.startDaemon(d)
	l.waitConverged(10 * time.Second)
	l.stop()
	l.start() // New fails the test if the lock still reads as taken
	l.waitConverged(10 * time.Second)
}

// A rules file broken beyond parsing cannot be planned: the pass fails,
// the error and the tampering (with its diff) are told once each.
func TestBrokenFileReported(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "100ms"})
	l.start()
	l.waitConverged(10 * time.Second)
	l.writeRules("rename", "- rule: [broken\n")
	e := l.hook.wait(t, 5*time.Second, "tamper", nil)
	if !strings.Contains(e.f("diff"), "+- rule: [broken") {
		t.Fatalf("tamper alert: %+v", e.OutputFields)
	}
	l.hook.wait(t, 5*time.Second, "error", nil)
	time.Sleep(time.Second)
	if n, m := len(l.hook.events("tamper")), len(l.hook.events("error")); n != 1 || m != 1 {
		t.Fatalf("want one tamper and one error alert:\n%s", l.hook.dump())
	}
}

// An edit made while the daemon was stopped is found when it starts: the
// copies of the converged files outlive the process.
func TestDriftWhileStopped(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	l.start()
	l.waitConverged(10 * time.Second)
	want := l.rules()
	time.Sleep(200 * time.Millisecond)
	l.stop()
	l.writeRules("in place", replaceOnce(t, want, "NEW SHELL!!!", "OLD SHELL"))
	l.start()
	testwait.Eventually(t, 5*time.Second, "the drift made while stopped was not restored", func() bool { return l.rules() == want })
	l.hook.wait(t, 5*time.Second, "drift", nil)
}

// metrics { listen } serves /metrics and /healthz.
func TestMetricsServed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l := newLab(t, labOpts{extra: fmt.Sprintf("metrics { listen = %q }\n", addr)})
	l.start()
	l.waitConverged(10 * time.Second)
	head := l.git("rev-parse", "HEAD")
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testwait.Eventually(t, 5*time.Second, "metrics without the applied commit", func() bool {
		code, body := get("/metrics")
		return code == 200 && strings.Contains(body, `rulekeeper_applied_commit_info{commit="`+head+`"} 1`)
	})
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/healthz %d %s", code, body)
	}
}

// rules.d beside falco.yaml is watched even while it is empty: a file
// dropped there (a drop-in that disables a rule), which Falco loads, makes
// a pass at once, not at the next poll.
func TestDropInEmptyRulesDirWatched(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	if err := os.Remove(l.host("/etc/falco/rules.d/.keep")); err != nil {
		t.Fatal(err)
	}
	l.start()
	l.waitConverged(10 * time.Second)
	// The first pass, the one it asks for once its watches are set, and
	// any its own writes make: wait until no pass has started for 500 ms.
	before := l.d.Passes()
	testwait.Eventually(t, 10*time.Second, "the daemon does not settle", func() bool {
		n := l.d.Passes()
		time.Sleep(500 * time.Millisecond)
		quiet := n == l.d.Passes() && n >= 2
		before = n
		return quiet
	})
	if err := os.WriteFile(l.host("/etc/falco/rules.d/50-site.yaml"), []byte("- rule: "+examRule+"\n  enabled: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testwait.Eventually(t, 5*time.Second, "a file dropped in the empty rules.d made no pass", func() bool { return l.d.Passes() > before })
}

// A rules file added to rules.d (a drop-in that disables a rule, as an
// attacker hiding from Falco writes) is tampering: told once, and left.
func TestDropInReported(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	l.start()
	l.waitConverged(10 * time.Second)
	<-l.d.Ready()
	dropIn := "/etc/falco/rules.d/50-site.yaml"
	body := "- rule: " + examRule + "\n  enabled: false\n"
	if err := os.WriteFile(l.host(dropIn), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e := l.hook.wait(t, 5*time.Second, "tamper", func(e hookEvent) bool { return e.f("file") == dropIn })
	if !strings.Contains(e.Output, "a new rules file; nothing was put back") {
		t.Errorf("tamper alert: %q", e.Output)
	}
	l.d.Trigger()
	time.Sleep(300 * time.Millisecond)
	if n := len(l.hook.events("tamper")); n != 1 {
		t.Errorf("%d tamper alerts, want 1:\n%s", n, l.hook.dump())
	}
	if b, err := os.ReadFile(l.host(dropIn)); err != nil || string(b) != body {
		t.Errorf("the drop-in was changed: %q %v", b, err)
	}
}

// The metrics server does not wait forever for a request's headers: a
// client that sends half a request is cut off after 5 s, so that slow
// clients cannot hold its connections.
func TestMetricsSlowHeaderCut(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	l := newLab(t, labOpts{local: true, interval: "1h", extra: fmt.Sprintf("metrics { listen = %q }\n", addr)})
	l.start()
	<-l.d.Ready()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write([]byte("GET /metrics HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = io.ReadAll(c)
	if took := time.Since(start); err != nil || took < 4*time.Second || took > 10*time.Second {
		t.Fatalf("a request without the end of its headers was cut after %v (%v), want about 5 s", took.Round(time.Millisecond), err)
	}
}
