package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

const daemonChildEnv = "FALCO_STANDIN_DAEMON_CHILD"

// engine is what one (re)start loaded: the config, the files in load order and their hashes.
type engine struct {
	version  string
	cfg      *config
	files    []string
	hashes   map[string]string
	loadedAt time.Time
}

// load reads the config and every rules file, as Falco does at start and at each restart.
func load(o options, lg *logger, quiet bool) (*engine, error) {
	cfg, err := loadConfig(o.config)
	if err != nil {
		return nil, err
	}
	version := falcoVersion(o.config)
	files, err := expandRulesFiles(cfg.RulesFile, version)
	if err != nil {
		return nil, err
	}
	rs := newRuleSet(version)
	e := &engine{version: version, cfg: cfg, files: files, hashes: map[string]string{}}
	if !quiet && newLoader(version) {
		lg.printf("Loading rules from:")
	}
	for _, f := range files {
		switch {
		case quiet:
		case newLoader(version):
			lg.printf("   %s | schema validation: ok", f)
		default:
			lg.printf("Loading rules from file %s:", f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("Could not load rules file %s: %w", f, err)
		}
		if err := rs.load(f, b); err != nil {
			if le, ok := err.(*loadError); ok && newLoader(version) {
				return nil, fmt.Errorf("%s", le.newText())
			}
			return nil, err
		}
		sum := sha256.Sum256(b)
		e.hashes[f] = hex.EncodeToString(sum[:])
	}
	e.loadedAt = time.Now()
	return e, nil
}

func runDaemon(o options, lg *logger, sigs chan os.Signal) int {
	if !o.daemonKid {
		lg.printf("Falco version %s (driver version 2.0.0+driver)", falcoVersion(o.config))
		lg.printf("Falco initialized with configuration file %s", o.config)
	}
	var w *watcher
	if !o.daemon || o.daemonKid {
		// Watch before loading: a change made while the rules load is not missed.
		w = newWatcher(lg)
		defer w.close()
		if cfg, err := loadConfig(o.config); err == nil {
			w.set(o.config, cfg)
		}
	}
	e, err := load(o, lg, o.daemonKid)
	if err != nil {
		lg.printf("Error: %v", err)
		return 1
	}
	if o.daemon && !o.daemonKid {
		return daemonize()
	}
	// Falco 0.32.1 writes the pid file only when it daemonizes (-d); mimic it, so tests meet the
	// packaged 0.32 unit's reality: --pidfile given, yet no pid file.
	if o.daemon && o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			lg.printf("Error: could not write pid file %s: %v", o.pidFile, err)
			return 1
		}
	}
	web := &webServer{lg: lg}
	defer web.stop()
	if err := web.apply(e); err != nil {
		lg.printf("Error: %v", err)
		return 1
	}
	w.set(o.config, e.cfg)

	hot := newLoader(falcoVersion(o.config))
	for {
		why := "SIGHUP received, restarting..."
		select {
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
			case syscall.SIGUSR1:
				lg.printf("SIGUSR1 received, reopening outputs...")
				continue
			default:
				lg.printf("%s received, exiting...", signalName(s))
				return 0
			}
		case path := <-w.changed:
			why = path + " changed, restarting..."
		}
		// Newer Falco loads the new files on the side first and keeps the
		// old rules when they fail; 0.32.1 restarts and exits on them.
		if hot {
			if _, err := load(o, lg, false); err != nil {
				lg.printf("Critical Falco internal: hot restart failure: %v", err)
				w.set(o.config, e.cfg)
				continue
			}
		}
		lg.printf("%s", why)
		if e, err = load(o, lg, false); err != nil {
			lg.printf("Error: %v", err)
			return 1
		}
		if err := web.apply(e); err != nil {
			lg.printf("Error: %v", err)
			return 1
		}
		w.set(o.config, e.cfg)
	}
}

// daemonize re-executes the stand-in in a new session with stdio closed; Go cannot fork. Like
// Falco, the parent returns at once, before the child has written the pid file.
func daemonize() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "Error: could not daemonize: %v\n", err)
		return 1
	}
	return 0
}

func signalName(s os.Signal) string {
	if s == syscall.SIGINT {
		return "SIGINT"
	}
	return "SIGTERM"
}
