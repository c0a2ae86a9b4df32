package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// The daemon against real git servers on 127.0.0.1 when the source fails:
// the node keeps its last applied state, each fault is one log line and one
// alert however many polls meet it, status tells it, and the daemon
// recovers by itself.

// srcNode is a sandbox node whose daemon (in a goroutine) pulls the exam's
// policy from a git server every 200 ms.
type srcNode struct {
	t     *testing.T
	root  string
	state string // the state directory, host path
	hook  *receiver
	logs  *gitserve.Buffer
	running
	// pause, held, stops the daemon at the start of its next pass.
	pause sync.Mutex
}

// examPolicy is the exam's policy with another prefix.
func examPolicy(t *testing.T, prefix string) string {
	t.Helper()
	return replaceOnce(t, examText(t), `prefix  = "NEW SHELL!!!"`, fmt.Sprintf("prefix  = %q", prefix))
}

// startSrcNode runs a daemon on a copy of the exam's node; source holds the
// lines of the source block besides the URL.
func startSrcNode(t *testing.T, url, source string) *srcNode {
	t.Helper()
	dir := t.TempDir()
	n := &srcNode{t: t, root: filepath.Join(dir, "root"), hook: newReceiver(t), logs: &gitserve.Buffer{}}
	n.state = filepath.Join(n.root, "var/lib/rulekeeper")
	if err := os.CopyFS(n.root, os.DirFS(examDir+"/node")); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "agent.hcl")
	gitserve.WriteFile(t, cfgFile, fmt.Sprintf(`source {
  url      = %q
  branch   = "main"
  interval = "200ms"
  timeout  = "10s"
%s
}
falco { binary = "none" }
node  { hostname = "node-1" }
alert {
  webhook_url     = %q
  webhook_retries = 0
}
`, url, source, n.hook.srv.URL))
	ld := agent.LoadConfig(cfgFile)
	if ld.Config == nil {
		t.Fatalf("config: %v", ld.Diags)
	}
	log := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(ld.Config, Options{Root: n.root, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	// Polls that meet a fault back off up to 5 minutes; here up to 2 s (the
	// doubling from 200 ms stays as it is), so that the daemon finds a
	// server that came back within seconds, however many polls met it.
	d.loop.backoff.Max = min(d.loop.backoff.Max, 2*time.Second)
	// The lock is a gate: a pass waits here while the test holds it.
	d.beforePass = func() { n.pause.Lock(); n.pause.Unlock() } //lint:ignore SA2001 a gate, not a critical section
	n.run(d)
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s\nalerts:\n%s", n.logs, n.hook.dump())
		}
	})
	return n
}

func (n *srcNode) stop() { n.halt(n.t) }

func (n *srcNode) rules() string {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.root, rulesPath))
	if err != nil {
		n.t.Fatal(err)
	}
	return string(b)
}

// has tells whether the rules file holds the exam's output with prefix.
func (n *srcNode) has(prefix string) bool {
	return strings.Contains(n.rules(), "  output: >\n    "+prefix+" user_id=%user.uid repo=%container.image.repository\n")
}

func (n *srcNode) waitApplied(prefix, commit string) {
	n.t.Helper()
	testwait.Eventually(n.t, 15*time.Second, "the output with "+prefix+" is not in falco_rules.yaml", func() bool { return n.has(prefix) })
	testwait.Eventually(n.t, 5*time.Second, "status does not name commit "+commit, func() bool {
		st := n.status()
		return st != nil && st.Commit == commit
	})
}

func (n *srcNode) status() *agent.Status {
	n.t.Helper()
	st, err := agent.ReadStatus(n.state)
	if err != nil {
		n.t.Fatal(err)
	}
	return st
}

// lines counts the daemon's log lines holding s.
func (n *srcNode) lines(s string) int {
	c := 0
	for _, l := range strings.Split(n.logs.String(), "\n") {
		if strings.Contains(l, s) {
			c++
		}
	}
	return c
}

// waitLine waits for a log line holding s.
func (n *srcNode) waitLine(s string, within time.Duration) {
	n.t.Helper()
	testwait.Eventually(n.t, within, "no log line with "+s, func() bool { return n.lines(s) > 0 })
}

// between runs f while no pass runs: passes run one after the other, so
// once the next one has started (and waits for pause) the last is over.
func (n *srcNode) between(f func()) {
	n.t.Helper()
	n.pause.Lock()
	defer n.pause.Unlock()
	want := n.d.Passes() + 1
	testwait.Eventually(n.t, 15*time.Second, "no next pass", func() bool { return n.d.Passes() >= want })
	f()
}

// faultTold waits for the fault's log line, alert and status.
func (n *srcNode) faultTold(kind string) {
	n.t.Helper()
	n.waitLine("policy source: "+kind, 10*time.Second)
	n.hook.wait(n.t, 5*time.Second, "error", func(e hookEvent) bool { return e.f("fault") == kind })
	testwait.Eventually(n.t, 5*time.Second, "status does not show the "+kind+" fault", func() bool {
		st := n.status()
		return st != nil && st.LastError != nil && strings.HasPrefix(st.LastError.Message, kind)
	})
}

// polls makes k more passes, one after the other, each fetching from the
// source: so many more polls meet the same fault. They are triggered, as a
// change of the rule files does: the timer's polls back off, and on a
// loaded machine three of them can take half a minute.
func (n *srcNode) polls(k int) {
	n.t.Helper()
	// Passes run one at a time: once one more has started, the k-th is over.
	for i := range k + 1 {
		want := n.d.Passes() + 1
		n.d.Trigger()
		testwait.Eventually(n.t, 15*time.Second, fmt.Sprintf("pass %d of %d more did not start", i+1, k), func() bool { return n.d.Passes() >= want })
	}
}

// faultOnce checks that the fault met by the last polls was told once: one
// log line, one alert, and status shows it; and that the node kept what
// commit applied.
func (n *srcNode) faultOnce(kind, inLine, prefix, commit string) {
	n.t.Helper()
	if c := n.lines("policy source: " + kind); c != 1 {
		n.t.Errorf("%d log lines for the %s fault, want 1", c, kind)
	}
	if c := n.lines(inLine); c != 1 {
		n.t.Errorf("%d log lines with %q, want 1", c, inLine)
	}
	var alerts []hookEvent
	for _, e := range n.hook.events("error") {
		if e.f("fault") == kind {
			alerts = append(alerts, e)
		}
	}
	if len(alerts) != 1 {
		n.t.Errorf("%d %s alerts, want 1:\n%s", len(alerts), kind, n.hook.dump())
	}
	st := n.status()
	if st == nil || st.LastError == nil || st.LastError.Kind != "source" || !strings.Contains(st.LastError.Message, kind) {
		n.t.Errorf("status does not show the %s fault: %+v", kind, st)
	}
	if st != nil && st.Commit != commit {
		n.t.Errorf("status commit %s, want the last applied %s", st.Commit, commit)
	}
	if !n.has(prefix) {
		n.t.Errorf("the node lost the state of commit %s:\n%s", commit, n.rules())
	}
}

// recovered checks the one "reachable again" line and a clean status.
func (n *srcNode) recovered() {
	n.t.Helper()
	testwait.Eventually(n.t, 5*time.Second, "status still shows the fault", func() bool {
		st := n.status()
		return st != nil && st.LastError == nil
	})
	if c := n.lines("policy source reachable again"); c != 1 {
		n.t.Errorf("%d 'reachable again' lines, want 1", c)
	}
}

// The server goes down: the daemon keeps commit A's state, logs the fault
// once over several polls, shows it in status; the server comes back on
// the same port and commit B, pushed meanwhile, is applied by itself.
func TestSourceUnreachable(t *testing.T) {
	t.Parallel()
	up := gitserve.NewUpstream(t)
	a := up.Commit("A", map[string]string{"policy.hcl": examPolicy(t, "NEW SHELL!!!")})
	srv := gitserve.StartDaemon(t, up.Root)
	n := startSrcNode(t, srv.URL("policy.git"), "")
	n.waitApplied("NEW SHELL!!!", a)

	srv.Stop()
	b := up.Commit("B", map[string]string{"policy.hcl": examPolicy(t, "SHELL B!")})
	n.faultTold("unreachable")
	first := n.status()
	n.polls(3)
	n.faultOnce("unreachable", "list refs of", "NEW SHELL!!!", a)
	if st := n.status(); first.LastError == nil || !st.LastError.Time.Equal(first.LastError.Time) {
		t.Errorf("status rewrote the fault on a retry: %+v, then %+v", first.LastError, st.LastError)
	}

	srv.Start()
	n.waitApplied("SHELL B!", b)
	n.recovered()
	n.hook.wait(t, 5*time.Second, "applied", func(e hookEvent) bool { return e.f("commit") == b })
}

// A server that keeps failing is polled less and less often: with a 200 ms
// interval the waits double (200, 400, 800, 1600 ms), so over 3 s of faults
// the server sees about four attempts, not fifteen.
func TestSourceFaultsBackOff(t *testing.T) {
	t.Parallel()
	var attempts atomic.Int32
	// A reset, not a close: go-git's git:// client waits 10 s on a
	// connection closed without a word (TestGitServerClosingWithoutAnswer).
	url := gitserve.Broken(t, func(c *net.TCPConn) {
		attempts.Add(1)
		gitserve.Reset(c)
	})
	n := startSrcNode(t, url, "")
	n.faultTold("unreachable")
	start, from := time.Now(), attempts.Load()
	time.Sleep(3 * time.Second)
	got := attempts.Load() - from
	n.stop()
	t.Logf("%d attempts over 3 s of faults", got)
	if got < 2 || got > 6 {
		t.Fatalf("%d connection attempts in %v of faults at a 200 ms interval: want 2 to 6 (waits doubling from 200 ms), not one per interval", got, time.Since(start).Round(time.Millisecond))
	}
}

// Smart HTTP with basic auth: a wrong token in password_file is refused by
// the server; one line, the node keeps its state, the token is nowhere in
// the logs, status or alerts; the right token again and the daemon goes on.
func TestSourceAuthRefused(t *testing.T) {
	t.Parallel()
	const token = "tok-7d1e5b3a9c2f4e60"
	const wrong = "tok-wrong-0a9b8c7d6e"
	up := gitserve.NewUpstream(t)
	a := up.Commit("A", map[string]string{"policy.hcl": examPolicy(t, "NEW SHELL!!!")})
	srv := gitserve.StartHTTP(t, up.Root, "fleet-bot", token)
	pw := filepath.Join(t.TempDir(), "token")
	gitserve.WriteFile(t, pw, token+"\n")
	n := startSrcNode(t, srv.URL+"/policy.git", fmt.Sprintf("  username = \"fleet-bot\"\n  password_file = %q", pw))
	n.waitApplied("NEW SHELL!!!", a)

	gitserve.ReplaceFile(t, pw, wrong+"\n") // whole: an empty file read between is a fault of its own
	b := up.Commit("B", map[string]string{"policy.hcl": examPolicy(t, "SHELL B!")})
	n.faultTold("auth")
	refused := srv.Refused.Load()
	n.polls(3)
	if srv.Refused.Load() <= refused {
		t.Fatal("the polls after the first refusal did not reach the server")
	}
	n.faultOnce("auth", "password_file", "NEW SHELL!!!", a)

	gitserve.ReplaceFile(t, pw, token)
	n.waitApplied("SHELL B!", b)
	n.recovered()
	n.stop() // every alert delivered

	st, err := os.ReadFile(filepath.Join(n.state, agent.StatusFile))
	if err != nil {
		t.Fatal(err)
	}
	alerts, _ := json.Marshal(n.hook.events(""))
	for _, secret := range []string{token, wrong} {
		for what, text := range map[string]string{"log": n.logs.String(), "status": string(st), "alerts": string(alerts)} {
			if strings.Contains(text, secret) {
				t.Errorf("the token %q is in the %s", secret, what)
			}
		}
	}
	// Nor anywhere in the state directory, whose clone keeps its remote's URL.
	_ = filepath.WalkDir(n.state, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), token) || strings.Contains(string(b), wrong) {
				t.Errorf("a token is in %s", p)
			}
		}
		return nil
	})
}

// A force-push that rewrites history is followed; the log and the applied
// alert say that history was rewritten and name the commit it replaced.
func TestSourceForcePush(t *testing.T) {
	t.Parallel()
	up := gitserve.NewUpstream(t)
	a := up.Commit("A", map[string]string{"policy.hcl": examPolicy(t, "NEW SHELL!!!")})
	srv := gitserve.StartDaemon(t, up.Root)
	n := startSrcNode(t, srv.URL("policy.git"), "")
	n.waitApplied("NEW SHELL!!!", a)
	b := up.Commit("B", map[string]string{"policy.hcl": examPolicy(t, "SHELL B!")})
	n.waitApplied("SHELL B!", b)

	up.Git("reset", "-q", "--hard", a)
	c := up.Commit("C replaces B", map[string]string{"policy.hcl": examPolicy(t, "SHELL C!")})
	n.waitApplied("SHELL C!", c)
	if n.lines("history rewritten") == 0 {
		t.Error("no log line says that history was rewritten")
	}
	e := n.hook.wait(t, 5*time.Second, "applied", func(e hookEvent) bool { return e.f("commit") == c })
	if e.f("history_rewritten") != "true" || e.f("previous") != b || !strings.Contains(e.Output, "history was rewritten") || e.f("reasons") != "policy" {
		t.Errorf("the applied alert of %s does not say history was rewritten over %s: %s %+v", c, b, e.Output, e.OutputFields)
	}
	// A force-push to a commit whose policy the node runs already is told
	// too, though nothing is written.
	up.Git("reset", "-q", "--hard", a)
	d := up.Commit("D, C's policy again", map[string]string{"policy.hcl": examPolicy(t, "SHELL C!")})
	e = n.hook.wait(t, 15*time.Second, "applied", func(e hookEvent) bool { return e.f("commit") == d })
	if e.f("history_rewritten") != "true" || e.f("previous") != c || !strings.Contains(e.Output, "the rule files needed no change") {
		t.Errorf("the alert of %s does not say history was rewritten over %s: %s %+v", d, c, e.Output, e.OutputFields)
	}
	if e := n.hook.wait(t, 5*time.Second, "applied", func(e hookEvent) bool { return e.f("commit") == b }); e.f("history_rewritten") != "" {
		t.Errorf("a fast-forward was reported as rewritten history: %+v", e.OutputFields)
	}
}

// The branch is deleted at the server: ref-not-found once, the last state
// kept; the branch pushed again with a new commit: applied.
func TestSourceBranchDeleted(t *testing.T) {
	t.Parallel()
	up := gitserve.NewUpstream(t)
	a := up.Commit("A", map[string]string{"policy.hcl": examPolicy(t, "NEW SHELL!!!")})
	srv := gitserve.StartDaemon(t, up.Root)
	n := startSrcNode(t, srv.URL("policy.git"), "")
	n.waitApplied("NEW SHELL!!!", a)

	gitserve.Git(t, up.Bare, "update-ref", "-d", "refs/heads/main")
	n.faultTold("ref-not-found")
	n.polls(3)
	n.faultOnce("ref-not-found", "branch main not found", "NEW SHELL!!!", a)

	b := up.Commit("B", map[string]string{"policy.hcl": examPolicy(t, "SHELL B!")})
	n.waitApplied("SHELL B!", b)
	n.recovered()
}

// The local clone is damaged (its object files deleted, or garbled): the
// daemon repairs it by itself on its next polls (a fetch, or a re-clone
// when the clone cannot be read), keeps the node as it was meanwhile, and
// follows the next commit. No fault reaches the operator: the clone is the
// agent's own.
func TestSourceCorruptClone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		spoil    func(file string) error
		reclones int
	}{
		{"objects deleted", os.Remove, 0},
		{"objects garbled", func(file string) error {
			fi, err := os.Stat(file)
			if err != nil {
				return err
			}
			if err := os.Chmod(file, 0o644); err != nil {
				return err
			}
			return os.WriteFile(file, []byte(strings.Repeat("\xde\xad", int(fi.Size()/2+1))), 0o644)
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := gitserve.NewUpstream(t)
			a := up.Commit("A", map[string]string{"policy.hcl": examPolicy(t, "NEW SHELL!!!")})
			srv := gitserve.StartDaemon(t, up.Root)
			n := startSrcNode(t, srv.URL("policy.git"), "")
			n.waitApplied("NEW SHELL!!!", a)
			converged := n.rules()

			clone := filepath.Join(n.state, "source/repo")
			spoiled := 0
			n.between(func() {
				_ = filepath.WalkDir(filepath.Join(clone, "objects"), func(p string, e fs.DirEntry, err error) error {
					if err == nil && e.Type().IsRegular() {
						if err := tc.spoil(p); err != nil {
							t.Fatal(err)
						}
						spoiled++
					}
					return nil
				})
			})
			if spoiled == 0 {
				t.Fatalf("no object files under %s", clone)
			}
			n.polls(3)
			if n.rules() != converged {
				t.Error("the rules file changed while the clone was broken")
			}
			// Repaired by the polls themselves, before any new commit.
			gitserve.Git(t, clone, "cat-file", "-e", a+"^{tree}")
			b := up.Commit("B", map[string]string{"policy.hcl": examPolicy(t, "SHELL B!")})
			n.waitApplied("SHELL B!", b)
			if errs := n.hook.events("error"); len(errs) != 0 {
				t.Errorf("a repaired clone was reported as an error:\n%s", n.hook.dump())
			}
			if c := n.lines("level=ERROR"); c != 0 {
				t.Errorf("%d error lines in the log for a clone the daemon repairs", c)
			}
			n.stop()
			// The clone is whole again, as git itself reads it.
			gitserve.Git(t, clone, "cat-file", "-e", b+"^{tree}")
			gitserve.Git(t, clone, "fsck", "--no-dangling")
			// Deleted objects come back with the next fetch; a garbled pack
			// cannot be read and the clone is made again.
			if c := n.lines("re-cloning"); c != tc.reclones {
				t.Errorf("%d re-clones, want %d", c, tc.reclones)
			}
		})
	}
}

// With verify { keyring }, a commit signed by the trusted key is applied;
// an unsigned one, or one signed by another key, is not: the node keeps its
// last good state and an alert names the commit. The next trusted commit
// is applied.
func TestSourceSignedCommits(t *testing.T) {
	t.Parallel()
	trusted, stranger := gitserve.NewKey(t, "fleet-admin"), gitserve.NewKey(t, "intruder")
	up := gitserve.NewUpstream(t)
	a := up.SignedCommit("A", map[string]string{"policy.hcl": examPolicy(t, "NEW SHELL!!!")}, trusted)
	srv := gitserve.StartDaemon(t, up.Root)
	n := startSrcNode(t, srv.URL("policy.git"), fmt.Sprintf("  verify { keyring = %q }", gitserve.WriteKeyring(t, trusted)))
	n.waitApplied("NEW SHELL!!!", a)

	for _, tc := range []struct {
		name, prefix string
		sign         func(msg string, files map[string]string) string
	}{
		{"unsigned", "UNSIGNED!", up.Commit},
		{"signed by another key", "STRANGER!", func(msg string, files map[string]string) string {
			return up.SignedCommit(msg, files, stranger)
		}},
	} {
		bad := tc.sign(tc.name, map[string]string{"policy.hcl": examPolicy(t, tc.prefix)})
		e := n.hook.wait(t, 10*time.Second, "refused", func(e hookEvent) bool { return e.f("commit") == bad })
		if !strings.Contains(e.Output, bad) || e.f("fault") != "signature" {
			t.Errorf("%s: the refusal does not name commit %s: %s %+v", tc.name, bad, e.Output, e.OutputFields)
		}
		n.polls(3)
		if n.has(tc.prefix) || !n.has("NEW SHELL!!!") {
			t.Fatalf("%s: the node did not keep the last good state:\n%s", tc.name, n.rules())
		}
		st := n.status()
		if st.Commit != a || st.Refused == nil || st.Refused.Commit != bad || st.Refused.Kind != "signature" {
			t.Errorf("%s: status: commit %s, refused %+v", tc.name, st.Commit, st.Refused)
		}
		var told int
		for _, e := range n.hook.events("refused") {
			if e.f("commit") == bad {
				told++
			}
		}
		if told != 1 {
			t.Errorf("%s: %d refusals of %s, want 1", tc.name, told, bad)
		}
	}

	d := up.SignedCommit("D", map[string]string{"policy.hcl": examPolicy(t, "SIGNED D!")}, trusted)
	n.waitApplied("SIGNED D!", d)
	testwait.Eventually(t, 5*time.Second, "status still shows the refusal", func() bool {
		st := n.status()
		return st.Refused == nil && st.LastError == nil
	})
}

// A fault that takes its time (a server that holds the connection, then
// drops it) backs off from when it failed: the next poll is the back-off
// after the pass, not after its start, which would be already past and
// make the node retry at once, over and over.
func TestSlowFaultBacksOffFromItsEnd(t *testing.T) {
	t.Parallel()
	const hold = 700 * time.Millisecond
	url := gitserve.Broken(t, func(c *net.TCPConn) {
		time.Sleep(hold)
		gitserve.Reset(c)
	})
	l := newLab(t, labOpts{interval: "200ms"})
	cfg := l.config()
	cfg.Source.URL = url
	d := newDaemon(t, cfg, Options{Root: l.root})
	t.Cleanup(func() { closeIdle(d) })
	for range 2 {
		start := time.Now()
		next := d.pass(context.Background(), false)
		end := time.Now()
		if took := end.Sub(start); took < hold {
			t.Fatalf("the pass failed in %v, before the server dropped the connection (%v)", took, hold)
		}
		if next.Before(end.Add(150 * time.Millisecond)) {
			t.Errorf("a fault found after %v: next poll %v after the pass ended, want its back-off (200 ms and more) after it", end.Sub(start).Round(time.Millisecond), next.Sub(end).Round(time.Millisecond))
		}
	}
}
