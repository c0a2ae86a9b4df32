// Package daemon is the node agent's loop: it pulls the policy from git,
// runs agent.Converge on every trigger (the timer, a new commit, a change
// in Falco's rule files, SIGHUP), one at a time, puts drift back and
// reports what it did. rulekeeperd runs it.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/alert"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/agent/source"
	"github.com/rulekeeper/rulekeeper/agent/watch"
	"github.com/rulekeeper/rulekeeper/policy"
)

// Options are the daemon's settings that do not come from its config file.
type Options struct {
	Root     string               // sandbox root: every node path, the state directory's too, under it
	Log      *slog.Logger         // nil: discard
	Registry *prometheus.Registry // nil: a fresh one
	Version  string               // rulekeeper's version, for rulekeeper_build_info
}

// Daemon keeps the node converged: every trigger (the poll timer, a new
// commit, a change in Falco's rule files, SIGHUP through Trigger) runs the
// same pass, one at a time.
type Daemon struct {
	// Reloader, when set, makes Falco load the files a pass wrote (and the
	// pass rolls back when Falco does not come back). Set it before Run.
	Reloader initsys.Reloader
	// ReloadMethod names the Reloader's method for `rulekeeper status`.
	ReloadMethod string

	cfg      *agent.Config
	root     string
	stateDir string // host path
	log      *slog.Logger
	alerts   *alert.Alerter
	src      *source.Source // nil with a local policy folder
	node     policy.Node
	falco    agent.Falco
	watcher  *watch.Watcher
	lock     *stateLock

	// kick holds at most one pending trigger: triggers during a pass
	// coalesce into exactly one more pass.
	kick   chan struct{}
	passes atomic.Int64
	// ready is closed when the first pass has ended (readyOnce).
	ready     chan struct{}
	readyOnce sync.Once
	// beforePass, in tests, runs at the start of every pass.
	beforePass func()

	loop  loopState // touched by the loop goroutine only
	polls cadence   // likewise
}

// New prepares a daemon: it takes the state directory's daemon lock
// (one daemon per node), checks the source settings and starts watching.
// Nothing is fetched or written before Run.
func New(cfg *agent.Config, o Options) (*Daemon, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, root: o.Root, log: log, kick: make(chan struct{}, 1), ready: make(chan struct{}),
		polls: newCadence(cfg.Interval, cfg.Splay)}
	d.stateDir = hostPath(o.Root, cfg.StateDir)
	if err := os.MkdirAll(d.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", cfg.StateDir, err)
	}
	lock, err := lockDaemon(d.stateDir)
	if err != nil {
		return nil, err
	}
	d.lock = lock
	fail := func(err error) (*Daemon, error) { lock.release(); return nil, err }

	if cfg.Source != nil {
		s := cfg.Source
		d.src, err = source.New(source.Config{
			URL: s.URL, Branch: s.Branch, Tag: s.Tag, Commit: s.Commit, Path: s.Path,
			Auth:          source.Auth{Username: s.Username, PasswordFile: s.PasswordFile, SSHKeyFile: s.SSHKeyFile, KnownHostsFile: s.KnownHostsFile},
			VerifyKeyring: s.Keyring, Dir: filepath.Join(d.stateDir, "source"), Timeout: s.Timeout,
		}, log)
		if err != nil {
			return fail(fmt.Errorf("%s: source: %w", cfg.File, err))
		}
	}
	host, _ := os.Hostname()
	if cfg.Node.Hostname != "" {
		host = cfg.Node.Hostname
	}
	d.alerts = alert.New(alert.Config{
		WebhookURL: cfg.Alert.WebhookURL, WebhookHeaders: cfg.Alert.WebhookHeaders,
		WebhookRetries: cfg.Alert.WebhookRetries, WebhookTimeout: cfg.Alert.WebhookTimeout,
		Hostname: host, Tags: cfg.Alert.Tags, Metrics: cfg.Metrics.Listen != "", HealthMaxAge: cfg.Metrics.HealthMaxAge,
		Version: o.Version,
	}, log, o.Registry)
	d.falco = agent.FindFalco(cfg.Falco.Binary)
	d.node = agent.Facts(o.Root, cfg.Node.Hostname, cfg.Node.Labels, d.falco.Version)
	if d.watcher, err = watch.New(nil, cfg.Drift.Quiet, log); err != nil {
		return fail(err)
	}
	if d.loop.seen, err = loadSeen(filepath.Join(d.stateDir, "seen")); err != nil {
		d.watcher.Close()
		return fail(err)
	}
	d.loop.backoff = source.Backoff{Min: cfg.Interval, Max: max(5*time.Minute, cfg.Interval)}
	d.loop.status = agent.Status{Source: d.sourceName(), Mode: cfg.Drift.Mode}
	if old, err := agent.ReadStatus(d.stateDir); err == nil && old != nil {
		// Keep what a previous run knew; this run's settings win.
		d.loop.status = *old
		d.loop.status.Source, d.loop.status.Mode = d.sourceName(), cfg.Drift.Mode
		// The last rollback stays visible to a rollout gate across a restart.
		if e := old.LastError; e != nil && e.Kind == "rollback" && e.Commit != "" {
			d.alerts.RolledBack(e.Commit)
		}
	}
	return d, nil
}

func (d *Daemon) sourceName() string {
	if d.cfg.Source == nil {
		return d.cfg.PolicyDir
	}
	return redactURL(d.cfg.Source.URL)
}

// Trigger asks for a pass. It never blocks: when a pass is already
// pending, this one joins it.
func (d *Daemon) Trigger() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Passes is how many passes have started.
func (d *Daemon) Passes() int64 { return d.passes.Load() }

// Ready is closed once the first pass has ended: its files written, Falco
// reloaded and verified (or the pass failed and said why). systemd's
// READY waits for it, so that a unit ordered after rulekeeper starts on
// converged rule files.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Handler serves /metrics and /healthz.
func (d *Daemon) Handler() http.Handler { return d.alerts.Handler() }

// Run runs passes until ctx is done: one at once, then after each trigger
// and at each poll (cadence). When ctx ends during a pass, the
// pass stops at its next step (a write in progress completes: writes are
// atomic) and Run returns nil.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.lock.release()
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: defers run last first
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if l := d.cfg.Metrics.Listen; l != "" {
		ln, err := net.Listen("tcp", l)
		if err != nil {
			d.watcher.Close()
			return fmt.Errorf("metrics listen %s: %w", l, err)
		}
		srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Go(func() { _ = srv.Serve(ln) })
		defer srv.Close()
		d.log.Info("serving /metrics and /healthz", "listen", ln.Addr().String())
	}
	wg.Go(func() {
		if err := d.watcher.Run(ctx, func(paths []string) {
			d.log.Debug("rule files changed", "paths", paths)
			d.Trigger()
		}); err != nil {
			d.log.Error("watching the rule files stopped; drift is only found by polls", "error", err)
		}
	})
	defer func() {
		c, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		_ = d.alerts.Close(c) // deliver queued alerts before exiting
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		event := false
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-d.kick:
			event = true
		}
		next := d.pass(ctx, event)
		if ctx.Err() != nil {
			return nil
		}
		d.readyOnce.Do(func() { close(d.ready) })
		timer.Reset(time.Until(next))
	}
}
