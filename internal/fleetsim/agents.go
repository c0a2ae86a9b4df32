package fleetsim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the run started: an agent group or a rulekeeperd.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	what   string
}

func startChild(what, logFile string, name string, args ...string) (*child, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{}), what: what}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	return c, nil
}

// stop sends SIGTERM and waits, killing after within.
func (c *child) stop(within time.Duration) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(within):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// agentSet is the running agents of a run.
type agentSet struct {
	groups  []*child // processes of in-process agents
	mu      sync.Mutex
	daemons []*child // rulekeeperd, one node each
	cancel  context.CancelFunc
	done    chan AgentCounts // in this process
	stopped bool
}

func (r *run) startAgents() error {
	c := r.cfg
	a := &agentSet{}
	r.agents = a
	var inproc []string
	var procs []node
	for _, n := range r.nodes {
		if n.proc {
			procs = append(procs, n)
		} else {
			inproc = append(inproc, n.dir)
		}
	}
	switch {
	case len(inproc) == 0:
	case c.AgentProcs == 0:
		ctx, cancel := context.WithCancel(context.Background())
		a.cancel, a.done = cancel, make(chan AgentCounts, 1)
		go func() {
			counts, err := RunAgents(ctx, inproc, c.Spread)
			if err != nil {
				counts.Warnings = map[string]int{"harness: " + err.Error(): 1}
			}
			a.done <- counts
		}()
	default:
		for g := range c.AgentProcs {
			var dirs []string
			for i := g; i < len(inproc); i += c.AgentProcs {
				dirs = append(dirs, inproc[i])
			}
			list := filepath.Join(c.Dir, fmt.Sprintf("agents-%d.txt", g))
			if err := os.WriteFile(list, []byte(strings.Join(dirs, "\n")+"\n"), 0o644); err != nil {
				return err
			}
			ch, err := startChild(fmt.Sprintf("agent group %d", g), filepath.Join(c.Dir, fmt.Sprintf("agents-%d.log", g)),
				c.Self, "agents", "-nodes", list, "-spread", c.Spread.String(),
				"-counts", filepath.Join(c.Dir, fmt.Sprintf("agents-%d.json", g)))
			if err != nil {
				return err
			}
			a.groups = append(a.groups, ch)
		}
	}
	// rulekeeperd processes, each after its own random part of the spread.
	offsets := make([]time.Duration, len(procs))
	for i := range offsets {
		offsets[i] = jitter(c.Spread)
	}
	slices.Sort(offsets)
	start := time.Now()
	startOne := func(n node) error {
		ch, err := startChild(n.host, filepath.Join(n.dir, "rulekeeperd.log"), c.Daemon, "--config", n.config(), "--root", n.root())
		if err != nil {
			return err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.stopped {
			ch.stop(5 * time.Second)
			return nil
		}
		a.daemons = append(a.daemons, ch)
		return nil
	}
	if c.Spread == 0 {
		for _, n := range procs {
			if err := startOne(n); err != nil {
				return err
			}
		}
	} else {
		go func() {
			for i, n := range procs {
				time.Sleep(time.Until(start.Add(offsets[i])))
				if err := startOne(n); err != nil {
					r.logf("%v", err)
				}
			}
		}()
	}
	return nil
}

// alive fails when an agent process exited while the run needs it.
func (r *run) alive() error {
	a := r.agents
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ch := range append(slices.Clone(a.groups), a.daemons...) {
		select {
		case <-ch.exited:
			return fmt.Errorf("%w: %s (exit %v); see its log under %s", errAgentsDied, ch.what, ch.cmd.ProcessState, r.cfg.Dir)
		default:
		}
	}
	return nil
}

type cpuSplit struct{ in, procs int64 }

// agentCPU is the CPU ticks of the in-process agents' processes (this
// process when they run here, the harness included) and of the rulekeeperd
// processes.
func (r *run) agentCPU() cpuSplit {
	a := r.agents
	a.mu.Lock()
	defer a.mu.Unlock()
	var s cpuSplit
	if a.done != nil {
		s.in = ownCPU(os.Getpid())
	}
	for _, g := range a.groups {
		s.in += ownCPU(g.pid())
	}
	for _, d := range a.daemons {
		s.procs += ownCPU(d.pid())
	}
	return s
}

// usage fills the footprint of the agents, before they stop.
func (r *run) usage() {
	a := r.agents
	c := r.cfg
	cpu := r.agentCPU()
	minutes := time.Since(r.start).Minutes()
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.Agents > 0 {
		u := &r.res.InProcess
		u.Nodes = c.Agents
		var rss, top int64
		pids := []int{}
		for _, g := range a.groups {
			pids = append(pids, g.pid())
		}
		if a.done != nil {
			pids = append(pids, os.Getpid())
		}
		for _, p := range pids {
			b := rssBytes(p)
			rss += b
			top = max(top, b)
		}
		u.RSSPerNodeMB = float64(rss) / float64(c.Agents) / 1e6
		u.RSSMaxMB = float64(top) / 1e6
		u.CPUPerNodeRun = float64(cpu.in) * 1000 / ticksPerSecond / float64(c.Agents) / minutes
	}
	if n := len(a.daemons); n > 0 {
		u := &r.res.Processes
		u.Nodes = n
		var rss, top int64
		for _, d := range a.daemons {
			b := rssBytes(d.pid())
			rss += b
			top = max(top, b)
		}
		u.RSSPerNodeMB = float64(rss) / float64(n) / 1e6
		u.RSSMaxMB = float64(top) / 1e6
		u.CPUPerNodeRun = float64(cpu.procs) * 1000 / ticksPerSecond / float64(n) / minutes
	}
}

var logMsg = regexp.MustCompile(`level=(WARN|ERROR) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// stopAgents stops every agent and collects what they logged.
func (r *run) stopAgents() {
	a := r.agents
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	all := append(slices.Clone(a.groups), a.daemons...)
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, ch := range all {
		wg.Go(func() { ch.stop(15 * time.Second) })
	}
	wg.Wait()
	if a.cancel != nil {
		a.cancel()
		r.addCounts(<-a.done)
	}
	for g := range a.groups {
		var counts AgentCounts
		if b, err := os.ReadFile(filepath.Join(r.cfg.Dir, fmt.Sprintf("agents-%d.json", g))); err == nil && json.Unmarshal(b, &counts) == nil {
			r.addCounts(counts)
		} else {
			r.res.Warnings[fmt.Sprintf("harness: agent group %d left no counts", g)]++
		}
	}
	for _, n := range r.nodes {
		if !n.proc {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(n.dir, "rulekeeperd.log"))
		for _, m := range logMsg.FindAllStringSubmatch(string(b), -1) {
			r.res.Warnings["rulekeeperd "+m[1]+": "+strings.Trim(m[2], `"`)]++
		}
	}
}

func (r *run) addCounts(c AgentCounts) {
	for k, v := range c.Warnings {
		r.res.Warnings[k] += v
	}
}
