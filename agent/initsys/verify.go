package initsys

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"time"
)

// checker is the verification every method shares: Falco's process is up and stays up, it loaded
// the files written since the given time (metrics hashes, else its log, else the method's own
// proof), and its /healthz answers where its web server is on.
type checker struct {
	o      Options
	method Method
	logs   logSource // nil when Falco's log cannot be read
	pidOf  func(ctx context.Context) (int, error)
	// unit, when set, reports the init system's view: ok to go on, proof that Falco started after
	// since, or a fatal state (unit failed).
	unit func(ctx context.Context, since time.Time) (ok, started bool, reason string, fatal bool)
}

func (c checker) verify(ctx context.Context, since time.Time) error {
	conf, confErr := readFalcoConf(c.o.path(c.o.FalcoConfig))
	if confErr != nil {
		c.o.Logger.Warn("cannot read falco config; checking the process only", "err", confErr)
	}
	if f, ok := c.logs.(logFile); ok {
		defer logMarks.setEnd(f.path) // what this verification read, a later one must not count again
	}
	var st stability
	for {
		r := c.once(ctx, since, conf, confErr == nil, &st)
		if r.ok {
			if r.weak {
				c.o.Logger.Warn("falco is up but nothing shows which rules it loaded: enable its metrics or give its log",
					"method", c.method)
			}
			return nil
		}
		if r.fatal {
			return c.fail(since, r.reason, false)
		}
		select {
		case <-ctx.Done():
			return c.fail(since, r.reason+" (gave up waiting)", true)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stability tracks how long the same pid has been up.
type stability struct {
	pid   int
	since time.Time
}

type result struct {
	ok, fatal, weak bool
	reason          string
}

func (c checker) once(ctx context.Context, since time.Time, conf falcoConf, haveConf bool, st *stability) result {
	now := time.Now()
	started := false
	if c.unit != nil {
		ok, s, reason, fatal := c.unit(ctx, since)
		if !ok {
			return result{fatal: fatal, reason: reason}
		}
		started = s
	}
	// A load error in the log is final whether or not the process is still there (0.32.1 exits),
	// and whatever the metrics say (0.40 refusing runs on, its metrics showing the old rules).
	if c.logs != nil {
		if ls, err := c.logs.lines(ctx, since); err == nil {
			if state, _ := loadSeen(ls, c.o.Settle, now); state == "failed" {
				return result{fatal: true, reason: failedReason}
			}
		}
	}
	pid, err := c.pidOf(ctx)
	if err != nil {
		return result{reason: err.Error()}
	}
	if pid != st.pid {
		st.pid, st.since = pid, now
	}
	up := now.Sub(st.since) >= c.o.Settle
	weak := false
	switch {
	case c.logs != nil && c.logReadable(ctx, since):
		ls, _ := c.logs.lines(ctx, since)
		switch state, _ := loadSeen(ls, c.o.Settle, now); state {
		case "failed":
			return result{fatal: true, reason: failedReason}
		case "none":
			return result{reason: "falco has logged no load of its rules since the files were written"}
		case "restarting":
			return result{reason: "falco is restarting and has not loaded its rules yet"}
		case "loading":
			return result{reason: "falco is still loading its rules (or trying them before a restart)"}
		}
		// Loaded and running: its metrics, where on, can be read safely now.
		if haveConf && conf.metrics {
			if reason := c.metricsMatch(ctx, conf); reason != "" {
				return result{reason: reason}
			}
		}
	case haveConf && conf.metrics:
		// Seen: Falco 0.40.0 dies (SIGSEGV) when /metrics is read while it restarts. With no log
		// to tell when the restart is over, the first read waits a while after the last reload.
		if wait := reloads.lastAt(since).Add(metricsDelay); now.Before(wait) {
			return result{reason: "waiting for falco's restart to end before reading its metrics"}
		}
		if reason := c.metricsMatch(ctx, conf); reason != "" {
			return result{reason: reason}
		}
	case started: // the init system started Falco after the write, and Falco loads its files at start
	default:
		weak = true
	}
	if !up {
		return result{reason: fmt.Sprintf("falco (pid %d) has not stayed up for %s yet", pid, c.o.Settle)}
	}
	if haveConf && conf.webOn {
		if err := healthz(ctx, conf.port); err != nil {
			return result{reason: err.Error()}
		}
	}
	return result{ok: true, weak: weak}
}

// metricsDelay is how long after a reload the verify waits before it reads Falco's /metrics
// when no log shows the restart over: Falco restarts within about a second.
const metricsDelay = 2 * time.Second

// failedReason covers both ways Falco refuses rules: 0.32.1 exits, 0.40+ keeps the old ones.
const failedReason = "falco logged an error loading the rules (it exited, or kept running its previous rules: hot restart failure)"

var hashLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`falcosecurity_falco_sha256_rules_files_info\{[^}]*file_name="([^"]*)"[^}]*sha256="([0-9a-f]+)"`)
})

// metricsMatch returns "" when Falco's metrics report the hash of every rules file on disk.
func (c checker) metricsMatch(ctx context.Context, conf falcoConf) string {
	want, err := ruleHashes(c.o, conf.rules)
	if err != nil {
		return "cannot hash the rules files: " + err.Error()
	}
	body, err := get(ctx, conf.port, "/metrics")
	if err != nil {
		return "falco metrics: " + err.Error()
	}
	got := map[string]string{}
	for _, m := range hashLine().FindAllStringSubmatch(body, -1) {
		got[m[1]] = m[2]
	}
	for f, h := range want {
		g, ok := got[f]
		if !ok {
			// Falco 0.40 names a file by its base name (file_name="falco_rules.yaml").
			g = got[filepath.Base(f)]
		}
		if g != h {
			return fmt.Sprintf("falco metrics report %s with sha256 %q, the file on disk has %s", f, g, h)
		}
	}
	return ""
}

func healthz(ctx context.Context, port int) error {
	if _, err := get(ctx, port, "/healthz"); err != nil {
		return fmt.Errorf("falco /healthz: %w", err)
	}
	return nil
}

func (c checker) fail(since time.Time, reason string, gaveUp bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	e := &VerifyError{Method: c.method, Reason: reason, gaveUp: gaveUp}
	if c.logs != nil {
		e.LogSource = c.logs.describe()
		// From a little before the write: the lines just before often say why.
		e.Log = lastLines(ctx, c.logs, since.Add(-time.Minute), 20)
	}
	return e
}

// logReadable: an unreadable log (no journalctl, no permission) is no proof either way, so the
// other proofs are used instead of waiting for a log that will never answer.
func (c checker) logReadable(ctx context.Context, since time.Time) bool {
	_, err := c.logs.lines(ctx, since)
	return err == nil
}
