// Command falcostandin behaves like the parts of Falco that rulekeeper depends on, so reload tests
// can run where a real Falco cannot (a booted init system in a container, a packaged unit): it
// loads the rule files named in its config (failing on invalid ones as Falco does), logs their
// loading, restarts on SIGHUP or when its files change, writes its pid file with -d, and serves
// /healthz and /metrics. It pretends to be the version in FALCO_STANDIN_VERSION (else the file
// standin-version beside its config, else 0.32.1) and behaves as that version does where Falco
// changed: which files of a rules folder it loads (every regular file, dot-files included, up to
// 0.40; *.yaml and *.yml from 0.41), what `-V` and the log say, and whether a reload onto invalid
// files exits (0.32.1) or keeps the old rules (newer). TestRealFalcoStandin* compares it with the
// real 0.32.1 and 0.40.0 on the same inputs.
//
// Where it differs from Falco, on purpose:
//   - log lines carry RFC 3339 timestamps with nanoseconds (Falco prints seconds), so a reader can
//     tell a load that happened after a write from one just before it;
//   - with FALCO_STANDIN_LOG set, log lines also go to that file (keep it under /run: a log that
//     survives reboots while pids repeat makes stale lines look fresh);
//   - conditions are not compiled: only the structure, priorities, output tokens and override rules
//     are checked, and there are no warnings;
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

// validate is `falco -V FILE...`: files load in order, so a later one may
// use an earlier one's macros. 0.32.1 names each file only when several are
// given and stops at the first invalid one; newer Falco names every file and
// reports each.
func validate(o options, lg *logger) int {
	version := falcoVersion(o.config)
	rs := newRuleSet(version)
	lg.printf("Validating rules file(s):")
	for _, f := range o.validate {
		lg.printf("   %s", f)
	}
	var report strings.Builder
	failed := false
	for _, f := range o.validate {
		err := rs.loadFile(f)
		le, isLoad := err.(*loadError)
		switch {
		case err != nil && !isLoad:
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			return 1
		case newLoader(version) && err != nil:
			failed = true
			fmt.Fprintf(&report, "%s\n", le.newText())
		case newLoader(version):
			fmt.Fprintf(&report, "%s: Ok\n", f)
		default:
			prefix := ""
			if len(o.validate) > 1 {
				prefix = f + ": "
			}
			if err != nil {
				fmt.Fprintf(&report, "%s%s\n", prefix, le.oldText())
				fmt.Print(report.String())
				fmt.Fprintf(os.Stderr, "Error: %s%s\n", prefix, le.oldText())
				return 1
			}
			fmt.Fprintf(&report, "%sOk\n", prefix)
		}
	}
	fmt.Print(report.String())
	if failed {
		fmt.Fprintf(os.Stderr, "Error: %s", report.String())
		return 1
	}
	return 0
}
