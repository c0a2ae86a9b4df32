package fleetsim

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A fleet of a dozen in-process agents on `git daemon`, two waves: every
// node takes the first commit, the no-change polls are counted and costed,
// and the pushed commit reaches each wave no sooner than its time and
// within a poll period after it. The plot of the run is a PNG.
func TestSmallFleet(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: apt-get install git")
	}
	cfg := Config{Name: "smoke", Dir: t.TempDir(), Server: GitDaemon, Agents: 12,
		NodeTemplate: "../../examples/cks-terminal-shell/node",
		Interval:     time.Second, Waves: 2, Delay: 5 * time.Second, Steady: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Rollout.Converged || len(r.Rollout.Waves) != 2 {
		t.Fatalf("rollout: converged %v, %d waves", r.Rollout.Converged, len(r.Rollout.Waves))
	}
	nodes := 0
	for _, w := range r.Rollout.Waves {
		nodes += w.Nodes
		if w.Applied != w.Nodes || len(w.Times) != w.Nodes {
			t.Errorf("wave %d: %d of %d applied", w.Wave, w.Applied, w.Nodes)
		}
		// No node applies before its wave's time (git keeps the commit time
		// in whole seconds, the waves' deadlines too).
		if len(w.Times) > 0 && w.Times[0] < w.DueAt-0.05 {
			t.Errorf("wave %d applied %.2fs after the push, before its time %.2fs", w.Wave, w.Times[0], w.DueAt)
		}
		// Within a poll period: the interval, plus the pass and the fetch,
		// seconds on a loaded machine (3.09 s seen with every core busy).
		// A node that waited one delay more would come at 5 s or later.
		if w.P100 > 4 {
			t.Errorf("wave %d: the last node applied %.2fs after the wave's time", w.Wave, w.P100)
		}
	}
	if nodes != 12 {
		t.Errorf("%d nodes counted in the waves, want 12", nodes)
	}
	if r.Rollout.Waves[1].DueAt < 3.5 {
		t.Errorf("wave 1 is due %.2fs after the push, want about 5s", r.Rollout.Waves[1].DueAt)
	}
	st := r.Steady
	// 12 agents polling every second for 2 s.
	if st.Polls < 12 || st.Polls > 40 {
		t.Errorf("%d polls in the %0.1fs window", st.Polls, st.Seconds)
	}
	// A no-change fetch over git://: the agent's want-nothing and the ref
	// advertisement, a few hundred bytes.
	if st.SentPerPoll < 20 || st.RecvPerPoll < 100 || st.SentPerPoll+st.RecvPerPoll > 2048 {
		t.Errorf("bytes per poll: %.0f sent, %.0f received", st.SentPerPoll, st.RecvPerPoll)
	}
	if st.CPUPerPollMs <= 0 {
		t.Errorf("server CPU per poll %.3f ms: the server's process tree was not measured", st.CPUPerPollMs)
	}
	if r.InProcess.RSSPerNodeMB <= 0 || len(r.Timeline) < 5 {
		t.Errorf("usage %+v, %d seconds of timeline", r.InProcess, len(r.Timeline))
	}
	for k, n := range r.Warnings {
		t.Errorf("agents warned %d times: %s", n, k)
	}

	png1 := filepath.Join(t.TempDir(), "fleet.png")
	if err := Plot(png1, []*Result{r}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(png1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("the plot is no PNG: %v", err)
	}
	noCgroupLeft(t)
}

// noCgroupLeft fails when a run left its server's control group behind.
func noCgroupLeft(t *testing.T) {
	t.Helper()
	for _, h := range []string{"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		left, _ := filepath.Glob(filepath.Join(h, fmt.Sprintf("rulekeeper-fleetsim-%d-*", os.Getpid())))
		if len(left) > 0 {
			t.Errorf("control groups left behind: %v", left)
		}
	}
}

func TestConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Interval: time.Second}, "no agents"},
		{Config{Agents: 1}, "interval must be positive"},
		{Config{Agents: 1, Interval: time.Second, Waves: 3}, "3 waves need a delay"},
		{Config{Agents: 1, Daemons: 1, Interval: time.Second}, "without the built program"},
		{Config{Agents: 1, AgentProcs: 2, Interval: time.Second}, "without the fleetsim program"},
		{Config{Agents: 1, Interval: time.Second, Server: "ftp", Dir: t.TempDir(), NodeTemplate: "../../examples/cks-terminal-shell/node"}, `unknown server "ftp"`},
	} {
		_, err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	noCgroupLeft(t)
}
