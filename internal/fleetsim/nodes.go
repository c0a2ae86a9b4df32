package fleetsim

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/daemon"
)

// A node is a sandbox root (a copy of a small Falco node), the agent's
// config beside it, and the state directory inside it.
type node struct {
	host string
	dir  string
	proc bool // run by a rulekeeperd process rather than in-process
}

func (n node) root() string   { return filepath.Join(n.dir, "root") }
func (n node) config() string { return filepath.Join(n.dir, "agent.hcl") }
func (n node) status() string {
	return filepath.Join(n.root(), "var/lib/rulekeeper", agent.StatusFile)
}

// makeNode lays out a node: Falco's files copied from template, and a
// config with no Falco to run or reload (binary and reload "none"), so
// that only the agent's own work is measured.
func makeNode(dir, host, template, url string, interval, splay time.Duration, proc bool) (node, error) {
	n := node{host: host, dir: filepath.Join(dir, host), proc: proc}
	if err := os.CopyFS(n.root(), os.DirFS(template)); err != nil {
		return n, fmt.Errorf("copy the node %s: %w", template, err)
	}
	splayLine := ""
	if splay > 0 {
		splayLine = fmt.Sprintf("  splay    = %q\n", splay.String())
	}
	cfg := fmt.Sprintf(`source {
  url      = %q
  branch   = "main"
  interval = %q
%s}
falco {
  binary = "none"
  reload = "none"
}
node { hostname = %q }
`, url, interval.String(), splayLine, host)
	return n, os.WriteFile(n.config(), []byte(cfg), 0o644)
}

// statusCommit tells whether a node's status file says it is converged to
// commit sha. It decodes nothing: the convergence watch reads the file of
// every node not there yet, four times a second.
func statusCommit(n node, sha string) bool {
	b, err := os.ReadFile(n.status())
	return err == nil && bytes.Contains(b, []byte(`"commit": "`+sha+`"`))
}

// AgentCounts is what a group of in-process agents logged at warning level
// or above, by message: a source fault, a refused connection.
type AgentCounts struct {
	Warnings map[string]int `json:"warnings"`
}

// countHandler counts the records at warning level and above and drops
// the rest: a thousand agents' logs would cost more than their work.
type countHandler struct {
	mu *sync.Mutex
	n  map[string]int
}

func (h countHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.n[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// RunAgents runs a daemon for each node folder in this process until ctx
// ends, each started after a random part of spread (0: all at once), and
// returns what they logged.
func RunAgents(ctx context.Context, dirs []string, spread time.Duration) (AgentCounts, error) {
	h := countHandler{mu: &sync.Mutex{}, n: map[string]int{}}
	log := slog.New(h)
	var ds []*daemon.Daemon
	for _, dir := range dirs {
		n := node{dir: dir}
		ld := agent.LoadConfig(n.config())
		if ld.Config == nil {
			return AgentCounts{}, fmt.Errorf("%s: %v", n.config(), ld.Diags)
		}
		d, err := daemon.New(ld.Config, daemon.Options{Root: n.root(), Log: log})
		if err != nil {
			return AgentCounts{}, fmt.Errorf("%s: %w", dir, err)
		}
		ds = append(ds, d)
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() {
			if spread > 0 {
				select {
				case <-time.After(rand.N(spread)):
				case <-ctx.Done():
				}
			}
			if err := d.Run(ctx); err != nil {
				log.Error("daemon stopped: " + err.Error())
			}
		})
	}
	wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return AgentCounts{Warnings: h.n}, nil
}
