// Package fleetlab runs a small fleet for the tests of what watches one:
// six rulekeeper daemons (in-process, each its own sandbox node, metrics
// registry and /metrics on 127.0.0.1) following one policy repository made
// with the git CLI, scraped by a real Prometheus, and driven through what a
// fleet lives through: a first commit, a new one rolled out in three waves
// that one node's Falco refuses (rollback), drift put back, tampering, a
// node pinned to the old commit and an agent that stops.
package fleetlab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/daemon"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/promserver"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// Job is the scrape job of the fleet, as in the README. SteadyJob
// scrapes node-1 alone: a fleet with nothing to say.
const (
	Job       = "rulekeeper"
	SteadyJob = "rulekeeper-steady"
)

// The nodes and what happens to each; the names are their instance labels.
const (
	Steady   = "node-1" // follows main, nothing happens to it
	Drifted  = "node-2" // a managed value edited by hand, put back
	Tampered = "node-3" // a condition blanked by hand (not put back)
	Rollback = "node-4" // a Falco 0.40.0 stand-in that refuses the new commit
	Pinned   = "node-5" // source pinned to the first commit: behind
	Silent   = "node-6" // its agent stops after the new commit
)

// Nodes in order; Env are their target labels `env` (as a fleet's service
// discovery would set them); Waves their rollout waves (the node label
// rulekeeper_wave): node-1 and node-4 are the canaries.
var (
	Nodes = []string{Steady, Drifted, Tampered, Rollback, Pinned, Silent}
	Env   = map[string]string{Steady: "prod", Drifted: "prod", Tampered: "prod", Rollback: "prod", Pinned: "staging", Silent: "staging"}
	Waves = map[string]int{Steady: 0, Rollback: 0, Drifted: 1, Tampered: 1, Pinned: 2, Silent: 2}
)

// WaveDelay is the rollout block's delay between two waves.
const WaveDelay = 4 * time.Second

// rollout is the policy's rollout block: three waves, no gate (each wave
// takes the commit in its turn, whatever the canary did).
var rollout = fmt.Sprintf("rollout {\n  waves = 3\n  delay = %q\n}\n", WaveDelay.String())

// Fleet is a fleet that went through the story; its Prometheus keeps
// running until the test ends.
type Fleet struct {
	Prom          *promserver.Server
	First, Newest string // the two commits
	// Their committer times: the first a minute before the story, the
	// newest when it is made, so that its waves come in the story.
	FirstTime, NewestTime time.Time
	Start, End            time.Time // the story's span, as Prometheus saw it
}

// examDir is the exam's example, found from the module root.
func examDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "examples/cks-terminal-shell")
}

// Run makes the fleet and plays its story; it returns when Prometheus has
// seen every step (about 30 s).
func Run(t testing.TB) *Fleet {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to make the policy repository: install the Debian package git")
	}
	exam := examDir(t)
	dir := t.TempDir()
	repo := &repo{t: t, dir: filepath.Join(dir, "repo")}
	policy, err := os.ReadFile(filepath.Join(exam, "policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	// Committer times a minute apart: the newest commit is the one with
	// the greatest time, as the dashboard and `rulekeeper fleet` read it.
	firstTime := time.Now().Truncate(time.Second).Add(-time.Minute)
	repo.init()
	repo.write("rollout.hcl", rollout)
	first := repo.commit("policy.hcl", string(policy), firstTime)

	addrs := map[string]string{}
	labels := map[string]map[string]string{}
	var targets []string
	for _, n := range Nodes {
		addrs[n] = freeAddr(t)
		targets = append(targets, addrs[n])
		labels[addrs[n]] = map[string]string{"instance": n, "env": Env[n]}
	}
	prom := promserver.Start(t, promserver.Options{Jobs: []promserver.Job{
		{Name: Job, Targets: targets, TargetLabels: labels},
		{Name: SteadyJob, Targets: []string{addrs[Steady]}, Labels: map[string]string{"instance": Steady}},
	}})
	f := &Fleet{Prom: prom, First: first, FirstTime: firstTime, Start: time.Now()}

	nodes := map[string]*node{}
	for _, n := range Nodes {
		src := fmt.Sprintf("source {\n  url = %q\n  branch = \"main\"\n  interval = \"1s\"\n}\n", "file://"+repo.dir)
		if n == Pinned {
			src = fmt.Sprintf("source {\n  url = %q\n  commit = %q\n  interval = \"1s\"\n}\n", "file://"+repo.dir, first)
		}
		cfg := src + fmt.Sprintf("falco { binary = \"none\" }\nnode {\n  hostname = %q\n  labels = { rulekeeper_wave = \"%d\" }\n}\nmetrics { listen = %q }\n", n, Waves[n], addrs[n])
		nodes[n] = startNode(t, exam, filepath.Join(dir, n), cfg, n == Rollback)
	}
	f.wait(t, "every node applied the first commit", fmt.Sprintf(`count(rulekeeper_applied_commit_info{job="rulekeeper",commit=%q} and on(instance) rulekeeper_converged{job="rulekeeper"} == 1)`, first), float64(len(Nodes)))
	f.wait(t, "node-4's reload was timed", `sum(rulekeeper_reload_duration_seconds_count{job="rulekeeper",method="signal"})`, 1)
	time.Sleep(3 * time.Second) // a plateau on the graphs

	// The new commit uses a field Falco 0.40 does not know: node-4's
	// Falco refuses it and is rolled back; the others have no Falco to
	// ask and apply it, wave 0 at once, wave 1 WaveDelay later, wave 2
	// twice that.
	f.NewestTime = time.Now().Truncate(time.Second)
	f.Newest = repo.commit("policy.hcl", `falco {
  strategy      = "in_place"
  falco_version = "0.44.1"
}
rule "Terminal shell in container" {
  output {
    prefix  = "NEW SHELL!!! path=%fs.path.name"
    include = ["user_id=%user.uid", "repo=%container.image.repository"]
  }
}
`, f.NewestTime)
	f.wait(t, "four nodes applied the new commit", fmt.Sprintf(`count(rulekeeper_applied_commit_info{job="rulekeeper",commit=%q} and on(instance) rulekeeper_converged{job="rulekeeper"} == 1)`, f.Newest), 4)
	f.wait(t, "node-4 rolled back", `sum(rulekeeper_rollbacks_total{job="rulekeeper",instance="node-4"})`, 1)
	time.Sleep(2 * time.Second)

	nodes[Drifted].edit(t, "NEW SHELL!!! path=%fs.path.name", "OLD SHELL")
	f.wait(t, "node-2's drift was put back", `sum(rulekeeper_drift_events_total{job="rulekeeper",instance="node-2",restored="true"})`, 1)
	time.Sleep(2 * time.Second) // apart on the graphs
	nodes[Tampered].edit(t, "  condition: (inbound_outbound) and ssh_port and not allowed_ssh_hosts\n", "  condition: never_true\n")
	f.wait(t, "node-3's tampering was reported", `sum(rulekeeper_tamper_events_total{job="rulekeeper",instance="node-3"})`, 1)
	time.Sleep(2 * time.Second)

	nodes[Silent].stop(t)
	f.wait(t, "node-6 is not scraped", `count(up{job="rulekeeper",instance="node-6"} == 0)`, 1)
	time.Sleep(3 * time.Second)
	f.End = time.Now()
	return f
}

// wait waits until the query's single value is want.
func (f *Fleet) wait(t testing.TB, what, q string, want float64) {
	t.Helper()
	testwait.Eventually(t, 60*time.Second, fmt.Sprintf("%s: %s never gave %v", what, q, want), func() bool {
		got, err := f.Prom.Query(context.Background(), q)
		time.Sleep(100 * time.Millisecond)
		return err == nil && len(got) == 1 && got[0].Value == want
	})
}

// node is one daemon on its sandbox node.
type node struct {
	root   string
	cancel context.CancelFunc
	done   chan error
}

func startNode(t testing.TB, exam, dir, cfg string, refusing bool) *node {
	t.Helper()
	n := &node{root: filepath.Join(dir, "root")}
	if err := os.CopyFS(n.root, os.DirFS(filepath.Join(exam, "node"))); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ld := agent.LoadConfig(cfgFile)
	if ld.Config == nil {
		t.Fatalf("config %s: %v", cfgFile, ld.Diags)
	}
	// The node's log is told only when the test fails: six daemons at
	// 1 s polls would drown the test's output.
	logs := &gitserve.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			out := logs.String()
			t.Logf("%s's log (its end):\n%s", filepath.Base(dir), out[max(0, len(out)-6000):])
		}
	})
	d, err := daemon.New(ld.Config, daemon.Options{Root: n.root, Log: log, Version: "fleetlab"})
	if err != nil {
		t.Fatal(err)
	}
	if refusing {
		s := startStandin(t, dir, n.root)
		o := initsys.Options{FalcoConfig: s.conf, PidFile: s.pidFile, LogFile: s.log,
			Method: initsys.MethodSignal, Settle: 300 * time.Millisecond, MinGap: 300 * time.Millisecond, Logger: log}
		if d.Reloader, _, err = initsys.Detect(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- d.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *node) stop(t testing.TB) {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("daemon Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("a daemon did not stop within 10s")
	}
}

// edit changes the node's rules file as an editor does (a new file
// renamed into place).
func (n *node) edit(t testing.TB, old, new string) {
	t.Helper()
	p := filepath.Join(n.root, "etc/falco/falco_rules.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(string(b), old); c != 1 {
		t.Fatalf("%q occurs %d times in %s", old, c, p)
	}
	tmp := p + ".swp"
	if err := os.WriteFile(tmp, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

type standin struct{ conf, pidFile, log string }

// startStandin runs the stand-in Falco as 0.40.0 on the node's rules,
// reloaded by SIGHUP: it refuses a field 0.40.0 does not know.
func startStandin(t testing.TB, dir, root string) standin {
	t.Helper()
	falco := filepath.Join(dir, "falco")
	if out, err := exec.Command("go", "build", "-o", falco, "github.com/rulekeeper/rulekeeper/internal/testkit/falcostandin").CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in falco: %v\n%s", err, out)
	}
	s := standin{conf: filepath.Join(dir, "falco.yaml"), pidFile: filepath.Join(dir, "falco.pid"), log: filepath.Join(dir, "falco.log")}
	etc := filepath.Join(root, "etc/falco")
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	if err := os.WriteFile(s.conf, []byte("watch_config_files: false\nwebserver:\n  enabled: true\n  listen_port: "+port+
		"\nrules_file:\n  - "+etc+"/falco_rules.yaml\n  - "+etc+"/falco_rules.local.yaml\n  - "+etc+"/rules.d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(falco, "-c", s.conf, "-d", "--pidfile="+s.pidFile)
	cmd.Env = append(os.Environ(), "FALCO_STANDIN_LOG="+s.log, "FALCO_STANDIN_VERSION=0.40.0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting the stand-in: %v\n%s", err, out)
	}
	var pid int
	testwait.Eventually(t, 10*time.Second, "the stand-in writes its pid file", func() bool {
		b, _ := os.ReadFile(s.pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// repo is the policy repository, made with the git CLI.
type repo struct {
	t   testing.TB
	dir string
}

func (r *repo) git(date time.Time, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	stamp := strconv.FormatInt(date.Unix(), 10) + " +0000"
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+r.dir,
		"GIT_AUTHOR_DATE="+stamp, "GIT_COMMITTER_DATE="+stamp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) init() {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.git(time.Now(), "init", "-q", "-b", "main")
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, name), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repo) commit(name, content string, when time.Time) string {
	r.t.Helper()
	r.write(name, content)
	r.git(when, "add", "-A")
	r.git(when, "commit", "-q", "-m", "change "+name)
	return r.git(when, "rev-parse", "HEAD")
}
