// Command fleetsim runs the fleet measurement of internal/fleetsim; see
// scripts/bench-fleet.sh, which builds and runs it.
//
//	fleetsim run -server http -agents 1000 -rulekeeperd-procs 50 -out dist/fleet/http.json ...
//	fleetsim plot -out docs/fleetsim-convergence.png dist/fleet/*.json
//	fleetsim summary dist/fleet/*.json
//	fleetsim agents -nodes FILE ...   (started by run: a group of in-process agents)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/fleetsim"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fleetsim run|agents|plot|summary [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "agents":
		err = agents(os.Args[2:])
	case "plot":
		err = plot(os.Args[2:])
	case "summary":
		var rs []*fleetsim.Result
		if rs, err = readResults(os.Args[2:]); err == nil {
			fleetsim.Summary(os.Stdout, rs)
		}
	default:
		err = fmt.Errorf("unknown command %q: run, agents, plot or summary", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var c fleetsim.Config
	out := fs.String("out", "", "write the result here as JSON")
	fs.StringVar(&c.Name, "name", "fleet", "the run's name")
	fs.StringVar(&c.Dir, "dir", "", "work folder (emptied first)")
	fs.StringVar(&c.Server, "server", fleetsim.GitDaemon, "git-daemon, http or http-cache")
	fs.StringVar(&c.NginxConf, "nginx-conf", "packaging/nginx/rulekeeper-git.conf", "the shipped nginx config the http servers run")
	fs.IntVar(&c.GitMaxConnections, "git-max-connections", 0, "git daemon --max-connections (0: git's default, 32)")
	fs.IntVar(&c.Agents, "agents", 1000, "in-process agents")
	fs.IntVar(&c.AgentProcs, "agent-procs", 2, "processes carrying the in-process agents")
	fs.IntVar(&c.Daemons, "rulekeeperd-procs", 50, "real rulekeeperd processes")
	fs.StringVar(&c.Daemon, "rulekeeperd", "", "the built rulekeeperd")
	fs.StringVar(&c.NodeTemplate, "node", "examples/cks-terminal-shell/node", "the Falco node copied for each agent")
	fs.DurationVar(&c.Interval, "interval", 30*time.Second, "poll interval")
	fs.DurationVar(&c.Splay, "splay", 0, "poll splay")
	fs.DurationVar(&c.Spread, "spread", 0, "start the agents at random times within this (0: all at once)")
	fs.IntVar(&c.Waves, "waves", 3, "rollout waves")
	fs.DurationVar(&c.Delay, "delay", time.Minute, "delay between waves")
	fs.DurationVar(&c.Steady, "steady", 0, "no-change window measured (0: 2 intervals + splay)")
	_ = fs.Parse(args)
	if c.Dir == "" {
		return fmt.Errorf("-dir is needed")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c.Self = self
	c.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := fleetsim.Run(ctx, c)
	if res != nil && *out != "" {
		if werr := writeJSON(*out, res); werr != nil {
			return werr
		}
		fmt.Fprintln(os.Stderr, "wrote", *out)
	}
	return err
}

func agents(args []string) error {
	fs := flag.NewFlagSet("agents", flag.ExitOnError)
	list := fs.String("nodes", "", "file listing the node folders, one a line")
	spread := fs.Duration("spread", 0, "start each at a random time within this")
	counts := fs.String("counts", "", "write the log counts here at exit")
	_ = fs.Parse(args)
	b, err := os.ReadFile(*list)
	if err != nil {
		return err
	}
	dirs := strings.Fields(string(b))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := fleetsim.RunAgents(ctx, dirs, *spread)
	if err != nil {
		return err
	}
	return writeJSON(*counts, c)
}

func plot(args []string) error {
	fs := flag.NewFlagSet("plot", flag.ExitOnError)
	out := fs.String("out", "docs/fleetsim-convergence.png", "the PNG to write")
	_ = fs.Parse(args)
	rs, err := readResults(fs.Args())
	if err != nil {
		return err
	}
	return fleetsim.Plot(*out, rs)
}

func readResults(files []string) ([]*fleetsim.Result, error) {
	var rs []*fleetsim.Result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := &fleetsim.Result{}
		if err := json.Unmarshal(b, r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("no result files given")
	}
	return rs, nil
}

func writeJSON(file string, v any) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}
