package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// fleetNode is one node of a small fleet: its sandbox, optionally a
// stand-in Falco (playing 0.40.0) that the daemon reloads with SIGHUP, and
// a daemon with its /metrics on a port of its own.
type fleetNode struct {
	srcNode
	name    string
	metrics string // host:port of /metrics
}

type fleetOpts struct {
	labels  string // the HCL of node { labels }
	port    int    // of /metrics
	standin bool   // a stand-in Falco that can refuse a change
	source  string // more lines of the source block
	// interval between polls; 300ms when empty.
	interval string
}

func startFleetNode(t *testing.T, name, url string, o fleetOpts) *fleetNode {
	t.Helper()
	dir := t.TempDir()
	n := &fleetNode{srcNode: srcNode{t: t, root: filepath.Join(dir, "root"), hook: newReceiver(t), logs: &gitserve.Buffer{}}, name: name}
	n.state = filepath.Join(n.root, "var/lib/rulekeeper")
	if err := os.CopyFS(n.root, os.DirFS(examDir+"/node")); err != nil {
		t.Fatal(err)
	}
	if o.port == 0 {
		o.port = gitserve.FreePort(t)
	}
	if o.interval == "" {
		o.interval = "300ms"
	}
	n.metrics = "127.0.0.1:" + strconv.Itoa(o.port)
	cfgFile := filepath.Join(dir, "agent.hcl")
	gitserve.WriteFile(t, cfgFile, fmt.Sprintf(`source {
  url      = %q
  branch   = "main"
  interval = %q
  timeout  = "10s"
%s
}
falco   { binary = "none" }
node    {
  hostname = %q
  labels   = { %s }
}
metrics { listen = %q }
alert {
  webhook_url     = %q
  webhook_retries = 0
}
`, url, o.interval, o.source, name, o.labels, n.metrics, n.hook.srv.URL))
	ld := agent.LoadConfig(cfgFile)
	if ld.Config == nil {
		t.Fatalf("config: %v", ld.Diags)
	}
	log := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(ld.Config, Options{Root: n.root, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if o.standin {
		falco := startStandin(t, n.root)
		o := initsys.Options{FalcoConfig: falco.conf, PidFile: falco.pidFile, LogFile: falco.log,
			Method: initsys.MethodSignal, Settle: 300 * time.Millisecond, MinGap: 300 * time.Millisecond}
		if d.Reloader, _, err = initsys.Detect(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	n.run(d)
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("%s: daemon log:\n%s\nalerts:\n%s", name, n.logs, n.hook.dump())
		}
	})
	return n
}

// rollout is the node's rollout status, nil when there is none yet.
func (n *fleetNode) rollout() *agent.RolloutStatus {
	if st := n.status(); st != nil {
		return st.Rollout
	}
	return nil
}

// rolloutPolicy is the exam's policy with prefix, in two waves delay
// apart; with prom, gated on the rollbacks of the commit rolled out.
func rolloutPolicy(t *testing.T, prom, prefix, falcoVersion string, delay time.Duration) string {
	p := examPolicy(t, prefix)
	if falcoVersion != "" {
		p = replaceOnce(t, p, `strategy = "in_place"`, fmt.Sprintf("strategy = \"in_place\"\n  falco_version = %q", falcoVersion))
	}
	gate := ""
	if prom != "" {
		gate = fmt.Sprintf(`
  gate {
    prometheus = %q
    query      = "max(rulekeeper_rollback_commit_info{commit=\"{{commit}}\"}) or vector(0)"
    threshold  = 0
  }`, prom)
	}
	return p + fmt.Sprintf(`
rollout {
  waves = ["canary", "rest"]
  delay = %q%s
}
`, delay.String(), gate)
}

// commitTime is the committer time of the upstream's head.
func commitTime(t *testing.T, u *gitserve.Upstream) time.Time {
	ts, err := strconv.ParseInt(u.Git("log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(ts, 0)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The trailer "Rollout: immediate" sends a commit to every wave at once on
// a node that verifies signatures, and is ignored, with the reason in the
// status and the alert, on one that does not. A commit that is no longer
// the head is never applied by a waiting node, and a restart does not
// restart its wait.
func TestRolloutTrailerNeedsVerification(t *testing.T) {
	t.Parallel()
	u := gitserve.NewUpstream(t)
	srv := gitserve.StartDaemon(t, u.Root)
	key := gitserve.NewKey(t, "policy-author")
	c0 := u.SignedCommit("the exam's output, in two waves an hour apart", map[string]string{"policy.hcl": rolloutPolicy(t, "", "NEW SHELL!!!", "", time.Hour)}, key)
	verified := startFleetNode(t, "rest-v", srv.URL("policy.git"), fleetOpts{labels: `rulekeeper_wave = "rest"`,
		source: fmt.Sprintf("  verify {\n    keyring = %q\n  }", gitserve.WriteKeyring(t, key))})
	plain := startFleetNode(t, "rest-p", srv.URL("policy.git"), fleetOpts{labels: `rulekeeper_wave = "1"`})
	verified.waitApplied("NEW SHELL!!!", c0)
	plain.waitApplied("NEW SHELL!!!", c0)

	urgent := u.SignedCommit("urgent fix of the shell rule\n\nRollout: immediate\n", map[string]string{"policy.hcl": rolloutPolicy(t, "", "URGENT SHELL!!!", "", time.Hour)}, key)
	verified.waitApplied("URGENT SHELL!!!", urgent)
	if r := verified.rollout(); r == nil || r.State != "applied" || !strings.Contains(r.Reason, "Rollout: immediate") {
		t.Errorf("verified node's rollout status: %+v", r)
	}
	testwait.Eventually(t, 10*time.Second, "the plain node does not wait for its wave", func() bool {
		r := plain.rollout()
		return r != nil && r.Head == urgent && r.State == "waiting"
	})
	r := plain.rollout()
	if !strings.Contains(r.Note, "trailer \"Rollout: immediate\" is ignored") || !strings.Contains(r.Note, "verify") ||
		r.PlacedBy != "label rulekeeper_wave=1" || !r.ApplyAfter.Equal(commitTime(t, u).Add(time.Hour)) {
		t.Errorf("plain node's rollout status: %+v", r)
	}
	ev := plain.hook.wait(t, 5*time.Second, "rollout", nil)
	if !strings.Contains(ev.Output, "is ignored") || ev.f("apply_after") == "" {
		t.Errorf("plain node's rollout alert: %q %v", ev.Output, ev.OutputFields)
	}
	if plain.has("URGENT SHELL!!!") {
		t.Fatal("the plain node applied a commit its wave has not reached")
	}
	first := r.FirstSeen

	// A restart keeps the wait where it was.
	plain.stop()
	d := newDaemon(t, plain.d.cfg, Options{Root: plain.root, Log: slog.New(slog.NewTextHandler(plain.logs, nil))})
	passes := d.Passes()
	plain.run(d)
	testwait.Eventually(t, 10*time.Second, "no pass after the restart", func() bool { return d.Passes() > passes+1 })
	if r := plain.rollout(); r.State != "waiting" || !r.FirstSeen.Equal(first) {
		t.Errorf("after a restart: %+v, first seen %v before", r, first)
	}

	// A new head replaces the one waited for: the plain node never applies
	// the urgent commit, and waits for the new one.
	next := u.SignedCommit("a later change", map[string]string{"policy.hcl": rolloutPolicy(t, "", "LATER SHELL!!!", "", time.Hour)}, key)
	for _, n := range []*fleetNode{verified, plain} {
		testwait.Eventually(t, 10*time.Second, n.name+" does not wait for the new head", func() bool {
			r := n.rollout()
			return r != nil && r.Head == next && r.State == "waiting" && r.Note == ""
		})
	}
	if !plain.has("NEW SHELL!!!") || !verified.has("URGENT SHELL!!!") {
		t.Error("a node left the commit it ran while it waits")
	}
}

// A gate that cannot be asked holds the commit (on_error "hold", the
// default), asks again on every poll and keeps the time of an unchanged
// answer, and the status says why; with on_error "proceed" the node
// applies it, and says that too.
func TestRolloutGateUnreachable(t *testing.T) {
	t.Parallel()
	u := gitserve.NewUpstream(t)
	srv := gitserve.StartDaemon(t, u.Root)
	// A Prometheus that cannot answer (503 on every query, as one that is
	// starting up), counting the tries.
	var asked atomic.Int64
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "starting up", http.StatusServiceUnavailable)
	}))
	t.Cleanup(prom.Close)
	down := prom.URL
	policy := func(prefix, onError string) string {
		return examPolicy(t, prefix) + fmt.Sprintf(`
rollout {
  waves = 2
  delay = "1s"
  gate {
    prometheus = %q
    query      = "up"
    threshold  = 0
    timeout    = "2s"%s
  }
}
`, down, onError)
	}
	c0 := u.Commit("first", map[string]string{"policy.hcl": policy("NEW SHELL!!!", "")})
	n := startFleetNode(t, "rest-1", srv.URL("policy.git"), fleetOpts{labels: `rulekeeper_wave = "1"`})
	n.waitApplied("NEW SHELL!!!", c0)

	held := u.Commit("held", map[string]string{"policy.hcl": policy("HELD SHELL!!!", "")})
	testwait.Eventually(t, 15*time.Second, "the node does not hold the commit for its unreachable gate", func() bool {
		r := n.rollout()
		return r != nil && r.Head == held && r.State == "gate_error"
	})
	r := n.rollout()
	if r.Gate == nil || !strings.Contains(r.Gate.Error, down) || !strings.Contains(r.Reason, `on_error "hold"`) {
		t.Errorf("status: %+v gate %+v", r, r.Gate)
	}
	ev := n.hook.wait(t, 5*time.Second, "rollout", func(e hookEvent) bool { return e.f("state") == "gate_error" })
	if ev.Priority != "Warning" || !strings.Contains(ev.Output, "commit "+held[:12]+" is held") {
		t.Errorf("alert %s: %s", ev.Priority, ev.Output) // the commit cut to 12 characters, as git's short form
	}
	if n.has("HELD SHELL!!!") {
		t.Fatal("applied a commit its gate could not clear")
	}
	// The same answer on the polls after keeps its time: a gate that holds
	// for hours does not rewrite the status file on every poll.
	tries := asked.Load()
	testwait.Eventually(t, 15*time.Second, "the gate asked again on three more polls", func() bool { return asked.Load() >= tries+3 })
	if again := n.rollout(); again.Gate == nil || !again.Gate.Time.Equal(r.Gate.Time) {
		t.Errorf("the gate's unchanged answer was rewritten: %+v, first %v", again.Gate, r.Gate.Time)
	}

	through := u.Commit("proceed", map[string]string{"policy.hcl": policy("THROUGH SHELL!!!", "\n    on_error   = \"proceed\"")})
	n.waitApplied("THROUGH SHELL!!!", through)
	if r := n.rollout(); r.State != "applied" || !strings.Contains(r.Reason, `on_error is "proceed"`) || r.Gate == nil || r.Gate.Error == "" {
		t.Errorf("status after proceeding: %+v", r)
	}
}

// The last rolled-back commit stays in /metrics across a restart of the
// agent, for the gates of the other nodes to read.
func TestRolledBackCommitKeptAcrossRestart(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h", extra: "metrics { listen = \"127.0.0.1:0\" }\n"})
	state := filepath.Join(l.root, "var/lib/rulekeeper")
	st := &agent.Status{Source: l.repo, Mode: "restore",
		LastError: &agent.Incident{Time: time.Now().UTC(), Kind: "rollback", Commit: "0123456789abcdef0123456789abcdef01234567", Message: "rolled back"}}
	if err := st.Write(state); err != nil {
		t.Fatal(err)
	}
	d := l.idleDaemon()
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, `rulekeeper_rollback_commit_info{commit="0123456789abcdef0123456789abcdef01234567"} 1`) ||
		!strings.Contains(body, "rulekeeper_rollbacks_total 0") {
		t.Errorf("/metrics after a restart:\n%s", grepLines(body, "rollback"))
	}
}
