// Command rulekeeperd is the node daemon: it keeps Falco's rule files
// converged on the policy in git and puts drift back. Users start it as
// `rulekeeper run`, which becomes this program; it is a program of its own
// so that the command line (apply, plan, validate) does not load the git,
// HTTP and metrics code only the daemon uses. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/alert"
	"github.com/rulekeeper/rulekeeper/agent/daemon"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/cmd/rulekeeperd/internal/earlysignal"
	"github.com/rulekeeper/rulekeeper/fleet"
	"github.com/rulekeeper/rulekeeper/policy"
)

var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fleet" {
		// `rulekeeper fleet` (package fleet) is a command, not the daemon:
		// SIGINT and SIGTERM end it as they end any command.
		signal.Reset(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
		os.Exit(fleet.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	// The handlers are in place before anything else (earlysignal): a
	// reload may come in the first milliseconds after a start, while the
	// config loads and the init system is found.
	os.Exit(run(os.Args[1:], os.Stderr, earlysignal.Reload, earlysignal.Stop))
}

// run is the daemon, until SIGTERM or SIGINT (exit 0). SIGHUP asks for a
// pass now; one that comes before the daemon is ready is met by its first
// pass.
func run(args []string, stderr io.Writer, reload, stopSig <-chan os.Signal) int {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var daemonReady atomic.Pointer[daemon.Daemon]
	go func() {
		for {
			select {
			case <-stopSig:
				stop()
				return
			case <-reload:
				if d := daemonReady.Load(); d != nil {
					d.Trigger()
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	fs := flag.NewFlagSet("rulekeeper run", flag.ContinueOnError)
	config := fs.String("config", agent.DefaultConfigFile, "the agent's configuration file")
	root := fs.String("root", "/", "treat this directory as the node's / (every node path, the state directory's too, under it)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *showVersion {
		fmt.Println("rulekeeperd", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: rulekeeper run [--config FILE] [--root DIR]")
		return 1
	}
	l := agent.LoadConfig(*config)
	if len(l.Diags) > 0 {
		policy.WriteDiagnostics(stderr, l.Files, l.Diags, false, 100)
	}
	if l.Config == nil {
		fmt.Fprintf(stderr, "Error: %s has errors: the daemon did not start (rulekeeper validate --config %s)\n", *config, *config)
		return 1
	}
	log := alert.NewLogger(stderr, l.Config.Log.Format == "json")
	if ctx.Err() != nil {
		log.Info("rulekeeper stopped before it started")
		return 0
	}
	d, err := daemon.New(l.Config, daemon.Options{Root: *root, Log: log, Version: version})
	if err != nil {
		log.Error("rulekeeper cannot start", "error", err)
		return 1
	}
	method := l.Config.Falco.Reload
	if method == "auto" {
		method = ""
	}
	r, why, err := initsys.Detect(ctx, initsys.Options{Root: *root, FalcoConfig: l.Config.Falco.Config, LogFile: l.Config.Falco.LogFile, Method: initsys.Method(method), Logger: log})
	if ctx.Err() != nil {
		log.Info("rulekeeper stopped before it started")
		return 0
	}
	if err != nil {
		log.Error("rulekeeper cannot start", "error", err)
		return 1
	}
	d.ReloadMethod = string(r.Method()) + ": " + why
	if r.Method() != initsys.MethodNone {
		d.Reloader = r
	} else {
		log.Warn("Falco will not be reloaded", "why", why)
	}
	go notifySystemd(ctx, d)
	defer sddaemon.SdNotify(false, sddaemon.SdNotifyStopping)
	daemonReady.Store(d)
	log.Info("rulekeeper started", "config", *config, "root", *root, "version", version)
	if err := d.Run(ctx); err != nil {
		log.Error("rulekeeper stopped", "error", err)
		return 1
	}
	log.Info("rulekeeper stopped")
	return 0
}

// notifySystemd speaks sd_notify when systemd started the agent with
// Type=notify (a no-op otherwise): READY once the first pass has ended, then
// WATCHDOG at half the unit's WatchdogSec while the loop runs.
func notifySystemd(ctx context.Context, d *daemon.Daemon) {
	select {
	case <-ctx.Done():
		return
	case <-d.Ready():
	}
	sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
	every, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil || every == 0 {
		return
	}
	wd := time.NewTicker(every / 2)
	defer wd.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wd.C:
			sddaemon.SdNotify(false, sddaemon.SdNotifyWatchdog)
		}
	}
}
