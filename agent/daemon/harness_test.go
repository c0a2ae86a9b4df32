package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

const (
	examDir   = "../../examples/cks-terminal-shell"
	rulesPath = "/etc/falco/falco_rules.yaml"
	examRule  = "Terminal shell in container"
	examLine  = "    NEW SHELL!!! user_id=%user.uid repo=%container.image.repository\n"
	sshCond   = "  condition: (inbound_outbound) and ssh_port and not allowed_ssh_hosts\n"
)

// lab is a sandbox node, a policy repository made with the git CLI, a
// webhook receiver and a daemon running in a goroutine.
type lab struct {
	t       testing.TB
	root    string
	repo    string
	cfgFile string
	hook    *receiver
	running
}

// running is a Daemon whose Run a test started and stops.
type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func (r *running) run(d *Daemon) {
	ctx, cancel := context.WithCancel(context.Background())
	r.d, r.cancel, r.done = d, cancel, make(chan error, 1)
	go func() { r.done <- d.Run(ctx) }()
}

// halt cancels Run and waits for it to return.
func (r *running) halt(t testing.TB) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Run did not return within 10s of the cancel")
	}
}

type labOpts struct {
	mode     string // drift mode; "" restore
	interval string // "" 1s
	local    bool   // policy_dir instead of a git source
	extra    string // more config
}

func newLab(t testing.TB, o labOpts) *lab {
	t.Helper()
	needGit(t)
	dir := t.TempDir()
	l := &lab{t: t, root: filepath.Join(dir, "root"), repo: filepath.Join(dir, "repo"), hook: newReceiver(t)}
	if err := os.CopyFS(l.root, os.DirFS(examDir+"/node")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(l.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	policy := examText(t)
	if o.mode == "" {
		o.mode = agent.DriftRestore
	}
	if o.interval == "" {
		o.interval = "1s"
	}
	src := fmt.Sprintf("source {\n  url = %q\n  branch = \"main\"\n  interval = %q\n}\n", "file://"+l.repo, o.interval)
	if o.local {
		src = fmt.Sprintf("policy_dir = %q\ninterval = %q\n", l.repo, o.interval)
	} else {
		l.git("init", "-q", "-b", "main")
	}
	l.commit("policy.hcl", policy)
	l.cfgFile = filepath.Join(dir, "agent.hcl")
	cfg := src + fmt.Sprintf(`
drift { mode = %q }
falco { binary = "none" }
node  { hostname = "node-1" }
alert {
  webhook_url     = %q
  webhook_retries = 0
}
`, o.mode, l.hook.srv.URL) + o.extra
	if err := os.WriteFile(l.cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to make the test repositories: install the Debian package git")
	}
}

func (l *lab) git(args ...string) string {
	l.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = l.repo
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+l.repo)
	out, err := cmd.CombinedOutput()
	if err != nil {
		l.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes a file of the policy and, with a git source, commits it.
func (l *lab) commit(name, content string) string {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.repo, name), []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.repo, ".git")); err != nil {
		return ""
	}
	l.git("add", "-A")
	l.git("commit", "-q", "-m", "change "+name)
	return l.git("rev-parse", "HEAD")
}

func (l *lab) config() *agent.Config {
	l.t.Helper()
	ld := agent.LoadConfig(l.cfgFile)
	if ld.Config == nil {
		l.t.Fatalf("config: %v", ld.Diags)
	}
	return ld.Config
}

func (l *lab) start() {
	l.t.Helper()
	l.startDaemon(newDaemon(l.t, l.config(), Options{Root: l.root, Log: testLog(l.t)}))
}

func (l *lab) startDaemon(d *Daemon) {
	l.run(d)
	l.t.Cleanup(func() { l.stop() })
}

func (l *lab) stop() { l.halt(l.t) }

func (l *lab) host(p string) string { return filepath.Join(l.root, p) }

func (l *lab) rules() string {
	l.t.Helper()
	b, err := os.ReadFile(l.host(rulesPath))
	if err != nil {
		l.t.Fatal(err)
	}
	return string(b)
}

// writeRules edits the rules file the way people and tools do.
func (l *lab) writeRules(how, content string) {
	l.t.Helper()
	p := l.host(rulesPath)
	var err error
	switch how {
	case "in place":
		var f *os.File
		if f, err = os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0); err == nil {
			_, err = f.WriteString(content)
			f.Close()
		}
	case "rename":
		tmp := filepath.Join(filepath.Dir(p), "falco_rules.yaml.dpkg-new")
		if err = os.WriteFile(tmp, []byte(content), 0o644); err == nil {
			err = os.Rename(tmp, p)
		}
	default:
		l.t.Fatalf("unknown write %q", how)
	}
	if err != nil {
		l.t.Fatal(err)
	}
}

// eventually waits until cond holds.
func (l *lab) waitConverged(within time.Duration) {
	l.t.Helper()
	testwait.Eventually(l.t, within, "the exam's output is not in falco_rules.yaml", func() bool {
		return strings.Contains(l.rules(), "  output: >\n"+examLine)
	})
}

// examText is the exam's policy as the example folder has it.
func examText(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(examDir + "/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// receiver is a webhook endpoint on 127.0.0.1 that keeps what it got.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []hookEvent
	maxBody int // the largest payload received, in bytes
	// delay holds each answer back, as a slow receiver does; a request
	// the sender gives up on meanwhile is not kept.
	delay time.Duration
}

type hookEvent struct {
	Output       string            `json:"output"`
	Priority     string            `json:"priority"`
	Rule         string            `json:"rule"`
	Hostname     string            `json:"hostname"`
	Time         time.Time         `json:"time"`
	OutputFields map[string]string `json:"output_fields"`
}

func (e hookEvent) kind() string         { return e.OutputFields["rulekeeper.kind"] }
func (e hookEvent) f(name string) string { return e.OutputFields["rulekeeper."+name] }

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var e hookEvent
		body, err := io.ReadAll(req.Body)
		if err == nil {
			err = json.Unmarshal(body, &e)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		delay := r.delay
		r.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
		r.mu.Lock()
		r.got = append(r.got, e)
		r.maxBody = max(r.maxBody, len(body))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) slow(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

func (r *receiver) events(kind string) []hookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hookEvent
	for _, e := range r.got {
		if kind == "" || e.kind() == kind {
			out = append(out, e)
		}
	}
	return out
}

// wait returns the first event of kind that pred accepts.
func (r *receiver) wait(t testing.TB, within time.Duration, kind string, pred func(hookEvent) bool) hookEvent {
	t.Helper()
	var found hookEvent
	testwait.Eventually(t, within, "no "+kind+" alert matching; got:\n"+r.dump(), func() bool {
		for _, e := range r.events(kind) {
			if pred == nil || pred(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

func (r *receiver) dump() string {
	var b strings.Builder
	for _, e := range r.events("") {
		fmt.Fprintf(&b, "  %s: %s\n", e.kind(), e.Output)
	}
	return b.String()
}

// testLog writes the daemon's log into the test's.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// closeIdle ends a daemon that was never Run, as Run's end would: its
// watch, and the state directory's lock.
func closeIdle(d *Daemon) {
	d.watcher.Close()
	d.lock.release()
}

// newDaemon is New for a test that goes on only with a daemon.
func newDaemon(t testing.TB, cfg *agent.Config, opts Options) *Daemon {
	t.Helper()
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// idleDaemon is a daemon of the lab that is never Run: the test drives its
// passes itself. Its watch and lock end with the test.
func (l *lab) idleDaemon() *Daemon {
	l.t.Helper()
	d := newDaemon(l.t, l.config(), Options{Root: l.root})
	l.t.Cleanup(func() { closeIdle(d) })
	return d
}
