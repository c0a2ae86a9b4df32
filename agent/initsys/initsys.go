// Package initsys reloads Falco through whatever the node offers — Falco's own file watch, systemd,
// a SysV init script, a SIGHUP — and verifies that Falco came back with the files just written.
//
// The caller writes every file of a pass, then calls Reload once and Verify. When Verify fails it
// puts the previous files back, calls Reload and Verify again, and alerts with the VerifyError,
// which carries Falco's last log lines.
package initsys

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/noderoot"
)

// Method names how Falco is reloaded.
type Method string

const (
	MethodWatch   Method = "watch"   // Falco watches its files: the write is the reload
	MethodSystemd Method = "systemd" // D-Bus: ReloadUnit where the unit can reload, else RestartUnit
	MethodSysV    Method = "sysv"    // `service falco reload|restart`
	MethodSignal  Method = "signal"  // SIGHUP to the pid from the pid file or /proc
	MethodNone    Method = "none"    // nothing to reload: a warning says why
)

// Reloader reloads one Falco and checks it came back.
type Reloader interface {
	Method() Method
	// Reload makes Falco load the files just written. For "watch" it does nothing: the write was
	// the reload. It waits, bounded by ctx, until MinGap has passed since the previous reload.
	Reload(ctx context.Context) error
	// Verify waits, bounded by ctx, until Falco runs with files written at or after since. On
	// failure it returns a *VerifyError saying what Falco did, with its last log lines.
	Verify(ctx context.Context, since time.Time) error
}

// Options say where Falco's files are and which method to use. Zero values take the defaults.
type Options struct {
	Root        string // sandbox root; "" or "/" is the live system (only then are processes and D-Bus used)
	FalcoConfig string // falco.yaml, default /etc/falco/falco.yaml
	PidFile     string // default /var/run/falco.pid
	InitScript  string // default /etc/init.d/falco
	Method      Method // forced method; "" detects
	Unit        string // forced systemd unit; "" tries falco.service and the units Falco packages ship
	// LogFile is a file Falco logs to, read for proof of a load and for the alert where there is no
	// journal (Falco itself logs to syslog; the stand-in used in tests can log to a file).
	LogFile string
	// MinGap is the least time between two reloads (default 2 s): a SIGHUP that lands while Falco is
	// still starting can kill it.
	MinGap time.Duration
	// Settle is how long Falco must stay up after loading before it counts as back (default 500 ms):
	// Falco 0.32.1 exits right after loading an invalid file.
	Settle time.Duration
	// WatchWait bounds how long "watch" waits for Falco to pick up the files before falling back to
	// the init system (default 5 s).
	WatchWait time.Duration
	Logger    *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.FalcoConfig == "" {
		o.FalcoConfig = "/etc/falco/falco.yaml"
	}
	if o.PidFile == "" {
		o.PidFile = "/var/run/falco.pid"
	}
	if o.InitScript == "" {
		o.InitScript = "/etc/init.d/falco"
	}
	if o.MinGap == 0 {
		o.MinGap = 2 * time.Second
	}
	if o.Settle == 0 {
		o.Settle = 500 * time.Millisecond
	}
	if o.WatchWait == 0 {
		o.WatchWait = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// live reports whether Options describe the running system rather than a sandbox.
func (o Options) live() bool { return noderoot.Live(o.Root) }

// path maps an absolute path of the node into Root.
func (o Options) path(p string) string { return noderoot.Join(o.Root, p) }

// VerifyError says Falco did not come back with the new files.
type VerifyError struct {
	Method    Method
	Reason    string   // what Falco did, e.g. "unit falco.service failed (exit-code)"
	LogSource string   // where the lines come from, e.g. "journalctl -u falco.service"
	Log       []string // Falco's last log lines, oldest first; empty when unreadable
	gaveUp    bool     // the time ran out with no verdict (rather than Falco failing)
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "falco did not come back with the new files (%s): %s", e.Method, e.Reason)
	if len(e.Log) > 0 {
		fmt.Fprintf(&b, "; last log lines (%s):\n  %s", e.LogSource, strings.Join(e.Log, "\n  "))
	}
	return b.String()
}
