// Command falcostandin behaves like the parts of Falco that rulekeeper depends on, so reload tests
// can run under a real init system without a kernel driver: it loads the rule files named in its
// config (failing on invalid ones as Falco does), logs `Loading rules from file ...`, restarts on
// SIGHUP or when its files change, writes its pid file with -d, and serves /healthz and /metrics.
//
// Where it differs from Falco, on purpose:
//   - log lines carry RFC 3339 timestamps with nanoseconds (Falco prints seconds), so a reader can
//     tell a load that happened after a write from one just before it;
//   - with FALCO_STANDIN_LOG set, log lines also go to that file (keep it under /run: a log that
//     survives reboots while pids repeat makes stale lines look fresh);
//   - conditions are not compiled: only the structure, priorities, output tokens and override rules
//     are checked;
//   - file changes are debounced for 100 ms before the restart (0.32.1 restarts on each event).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

type options struct {
	config    string
	pidFile   string
	daemon    bool
	version   bool
	validate  []string
	daemonKid bool // re-executed as the daemon's child: the parent already logged the first load
}

func main() {
	// Handlers first: a SIGHUP that lands before them kills the process (the default action).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)

	o, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	os.Exit(dispatch(o, sigs))
}

func dispatch(o options, sigs chan os.Signal) int {
	lg := newLogger()
	defer lg.close()
	switch {
	case o.version:
		fmt.Printf("Falco version: %s\nDriver version: 2.0.0+driver\n", falcoVersion(o.config))
		return 0
	case len(o.validate) > 0:
		return validate(o, lg)
	default:
		return runDaemon(o, lg, sigs)
	}
}

func parseArgs(args []string) (options, error) {
	o := options{config: "/etc/falco/falco.yaml", daemonKid: os.Getenv(daemonChildEnv) != ""}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		next := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "-c":
			o.config, err = next()
		case "--pidfile", "-P":
			o.pidFile, err = next()
		case "-d", "--daemon":
			o.daemon = true
		case "--version":
			o.version = true
		case "-o", "--option":
			_, err = next() // config overrides (log_syslog=false, plugin paths): nothing the stand-in reads
		case "-V", "--validate":
			var f string
			f, err = next()
			o.validate = append(o.validate, f)
		default:
			return o, fmt.Errorf("unknown option %s", a)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// validate is `falco -V FILE...`: files load in order, so a later one may use an earlier one's
// macros. Like 0.32.1, the file name prefixes each result only when several files are given.
func validate(o options, lg *logger) int {
	rs := newRuleSet(falcoVersion(o.config))
	lg.printf("Validating rules file(s):")
	for _, f := range o.validate {
		lg.printf("   %s", f)
	}
	for _, f := range o.validate {
		prefix := ""
		if len(o.validate) > 1 {
			prefix = f + ": "
		}
		if err := rs.loadFile(f); err != nil {
			fmt.Printf("%s%v\n", prefix, err)
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			return 1
		}
		fmt.Printf("%sOk\n", prefix)
	}
	return 0
}
