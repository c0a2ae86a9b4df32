package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
)

// run is one Run's moving parts.
type run struct {
	cfg    Config
	start  time.Time
	res    *Result
	repo   *repo
	srv    *server
	px     *proxy
	nodes  []node
	samp   *sampler
	agents *agentSet
}

// Run lays out the fleet, starts the server and the agents, waits until
// every node runs the first commit, measures a window of no-change polls,
// pushes a second commit and follows its waves until every node runs it.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := checkLimits(cfg.Agents + cfg.Daemons); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg}
	defer r.stop()
	if err := r.setup(); err != nil {
		return nil, err
	}
	err := r.measure(ctx)
	if r.samp != nil {
		r.res.Timeline = r.samp.seconds() // a failed run's too: it shows why
	}
	if err != nil {
		r.res.Error = err.Error()
	}
	return r.res, err
}

// checkLimits makes sure each agent can have its inotify instance (the
// drift watch) and its files: fs.inotify.max_user_instances is often 128.
func checkLimits(agents int) error {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if need := agents + 64; n < need {
		return fmt.Errorf("fs.inotify.max_user_instances is %d, the fleet needs %d (an inotify instance per agent): "+
			"sysctl -w fs.inotify.max_user_instances=%d (scripts/bench-fleet.sh does, as root)", n, need, need)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(8*agents) {
		lim.Cur = min(lim.Max, uint64(8*agents))
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(4*agents) {
			return fmt.Errorf("open files limit %d is too low for %d agents: ulimit -n %d", lim.Cur, agents, 8*agents)
		}
	}
	return nil
}

func (r *run) logf(format string, a ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "%6.1fs %s: %s\n", time.Since(r.start).Seconds(), r.cfg.Name, fmt.Sprintf(format, a...))
	}
}

func (r *run) since(t time.Time) float64 { return t.Sub(r.start).Seconds() }

func (r *run) setup() error {
	c := r.cfg
	r.start = time.Now()
	load, _ := os.ReadFile("/proc/loadavg")
	r.res = &Result{Name: c.Name, Server: c.Server, Started: r.start.UTC(), LoadAvg: strings.TrimSpace(string(load)),
		Agents: c.Agents, AgentProcs: c.AgentProcs, Daemons: c.Daemons, Interval: c.Interval.String(),
		Splay: c.Splay.String(), Spread: c.Spread.String(), Waves: c.Waves, Delay: c.Delay.String(),
		GitMaxConns: c.GitMaxConnections, Events: map[string]float64{}, Warnings: map[string]int{}}
	var err error
	if r.repo, err = newRepo(c.Dir, c.Waves, c.Delay); err != nil {
		return err
	}
	if _, _, err := r.repo.push(0); err != nil {
		return err
	}
	if r.srv, err = startServer(c.Server, r.repo.base, "policy.git", filepath.Join(c.Dir, "server"), c.GitMaxConnections, c.NginxConf); err != nil {
		return err
	}
	r.res.RefsCache = r.srv.refsCache
	if r.px, err = startProxy(r.srv.addr); err != nil {
		return err
	}
	url := r.srv.url(r.px.addr())
	nodesDir := filepath.Join(c.Dir, "nodes")
	for i := range c.Agents + c.Daemons {
		host := fmt.Sprintf("node-%04d", i)
		if i >= c.Agents {
			host = fmt.Sprintf("proc-%02d", i-c.Agents)
		}
		n, err := makeNode(nodesDir, host, c.NodeTemplate, url, c.Interval, c.Splay, i >= c.Agents)
		if err != nil {
			return err
		}
		r.nodes = append(r.nodes, n)
	}
	r.logf("%d nodes laid out under %s; %s serves %s", len(r.nodes), nodesDir, c.Server, url)
	return nil
}

func (r *run) measure(ctx context.Context) error {
	c := r.cfg
	r.samp = startSampler(r.srv.cpu, r.px)
	r.res.CPUAccounting = r.srv.accounting()
	r.start = time.Now() // the timeline's zero: the agents start now
	r.samp.zero = r.start
	if err := r.startAgents(); err != nil {
		return err
	}
	// Every node on the first commit.
	first, _ := r.repo.git(r.repo.work, "rev-parse", "HEAD")
	limit := c.Spread + 3*(c.Interval+c.Splay) + time.Minute
	if err := r.waitAll(ctx, first, limit); err != nil {
		return fmt.Errorf("first commit: %w", err)
	}
	r.res.FirstConverged = r.since(time.Now())
	r.res.Events["first_converged"] = r.res.FirstConverged
	r.logf("every node runs the first commit")

	// A short settle (the last nodes' passes end), then the no-change window.
	if err := sleep(ctx, 5*time.Second); err != nil {
		return err
	}
	if err := r.steady(ctx); err != nil {
		return err
	}

	// The push and its waves.
	sha, ctime, err := r.repo.push(1)
	if err != nil {
		return err
	}
	push := time.Now()
	r.samp.takeWindow() // the waves' peaks, from here
	ro := &r.res.Rollout
	ro.Commit, ro.PushAt, ro.CommitTimeAt = sha, r.since(push), r.since(ctime)
	r.res.Events["push"] = ro.PushAt
	r.logf("pushed %s", sha[:12])
	limit = time.Duration(max(c.Waves-1, 0))*c.Delay + 2*(c.Interval+c.Splay) + time.Minute
	werr := r.waitAll(ctx, sha, limit)
	ro.Converged = werr == nil
	ro.PeakCores, ro.PeakOpen = r.samp.takeWindow()
	// One more poll period: stragglers' figures and the timeline's tail.
	if werr == nil {
		_ = sleep(ctx, min(c.Interval, 10*time.Second))
	}
	r.waves(sha, ctime, push)
	r.firstPeriod(push)
	r.usage()
	r.stopAgents()
	return werr
}

// steady measures the no-change window.
func (r *run) steady(ctx context.Context) error {
	c := r.cfg
	s0 := r.samp.now()
	r.samp.takeWindow()
	u0 := r.agentCPU()
	req0 := r.httpRequests()
	r.res.Events["steady_start"] = r.since(time.Now())
	if err := sleep(ctx, c.Steady); err != nil {
		return err
	}
	s1 := r.samp.now()
	u1 := r.agentCPU()
	r.res.Events["steady_end"] = r.since(time.Now())
	st := &r.res.Steady
	st.Seconds = s1.t.Sub(s0.t).Seconds()
	st.Polls = s1.conns - s0.conns
	st.PeakCores, st.PeakOpen = r.samp.takeWindow()
	if st.Polls > 0 {
		p := float64(st.Polls)
		st.SentPerPoll = float64(s1.sent-s0.sent) / p
		st.RecvPerPoll = float64(s1.recvd-s0.recvd) / p
		st.CPUPerPollMs = float64(s1.ns-s0.ns) / 1e6 / p
	}
	st.ServerCores = float64(s1.ns-s0.ns) / 1e9 / st.Seconds
	st.BytesPerFleetInterval = (st.SentPerPoll + st.RecvPerPoll) * float64(len(r.nodes))
	if c.Server != GitDaemon {
		st.HTTPRequests = r.httpRequests() - req0
	}
	perMin := 60 / st.Seconds
	if c.Agents > 0 {
		r.res.InProcess.CPUPerNodeSteady = float64(u1.in-u0.in) * 1000 / ticksPerSecond / float64(c.Agents) * perMin
	}
	if c.Daemons > 0 {
		r.res.Processes.CPUPerNodeSteady = float64(u1.procs-u0.procs) * 1000 / ticksPerSecond / float64(c.Daemons) * perMin
	}
	r.logf("steady: %d polls in %.0fs, %.0f+%.0f bytes and %.2f ms server CPU per poll", st.Polls, st.Seconds,
		st.SentPerPoll, st.RecvPerPoll, st.CPUPerPollMs)
	return nil
}

// waitAll waits until every node's status names commit sha.
func (r *run) waitAll(ctx context.Context, sha string, within time.Duration) error {
	deadline := time.Now().Add(within)
	left := slices.Clone(r.nodes)
	for {
		left = slices.DeleteFunc(left, func(n node) bool { return statusCommit(n, sha) })
		if len(left) == 0 {
			return nil
		}
		if err := r.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes do not run %s after %v (first: %s, its status %s)",
				len(left), len(r.nodes), sha[:12], within, left[0].host, left[0].status())
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// waves reads every node's status: its wave, and when it applied sha.
func (r *run) waves(sha string, ctime, push time.Time) {
	c := r.cfg
	byWave := map[int]*Wave{}
	for _, n := range r.nodes {
		st, err := agent.ReadStatus(filepath.Dir(n.status()))
		if err != nil || st == nil {
			continue
		}
		w := 0
		if st.Rollout != nil {
			w = st.Rollout.Wave
		}
		if byWave[w] == nil {
			// A wave's time: the commit time plus its delays, but never
			// before the push (git keeps whole seconds, and wave 0's time
			// is the commit's, made before the push).
			byWave[w] = &Wave{Wave: w, DueAt: max(0, ctime.Add(time.Duration(w)*c.Delay).Sub(push).Seconds())}
		}
		wv := byWave[w]
		wv.Nodes++
		if st.Commit == sha && !st.AppliedAt.IsZero() {
			wv.Applied++
			wv.Times = append(wv.Times, st.AppliedAt.Sub(push).Seconds())
		}
	}
	bound := (c.Interval + c.Splay).Seconds()
	for w := range c.Waves + 1 {
		wv := byWave[w]
		if wv == nil {
			continue
		}
		slices.Sort(wv.Times)
		if len(wv.Times) > 0 {
			at := func(q float64) float64 {
				i := min(len(wv.Times)-1, max(0, int(q*float64(len(wv.Times))+0.999999)-1))
				return round3(wv.Times[i] - wv.DueAt)
			}
			wv.P50, wv.P95, wv.P100 = at(0.50), at(0.95), at(1)
		}
		wv.Within = wv.Applied == wv.Nodes && wv.P100 <= bound
		r.res.Rollout.Waves = append(r.res.Rollout.Waves, *wv)
		r.res.Events[fmt.Sprintf("wave_%d_due", w)] = r.res.Rollout.PushAt + wv.DueAt
		r.logf("wave %d: %d/%d nodes, due %.1fs after the push; applied after it: p50 %.2fs p95 %.2fs p100 %.2fs",
			w, wv.Applied, wv.Nodes, wv.DueAt, wv.P50, wv.P95, wv.P100)
	}
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// firstPeriod counts what the push cost the server in the first poll
// period after it, and the packs after it.
func (r *run) firstPeriod(push time.Time) {
	ro := &r.res.Rollout
	end := push.Add(r.cfg.Interval + r.cfg.Splay)
	for _, s := range r.samp.seconds() {
		if at := r.samp.zero.Add(time.Duration(s.T) * time.Second); !at.Before(push) && at.Before(end) {
			ro.FirstPeriodCPU += s.Cores
		}
	}
	ro.FirstPeriodCPU = round3(ro.FirstPeriodCPU)
	if r.cfg.Server == GitDaemon {
		return
	}
	b, _ := os.ReadFile(filepath.Join(r.cfg.Dir, "server", "access.log"))
	for _, line := range strings.Split(string(b), "\n") {
		// $msec $status ... "POST /policy.git/git-upload-pack HTTP/1.1"
		ms, rest, _ := strings.Cut(line, " ")
		sec, err := strconv.ParseFloat(ms, 64)
		if err != nil || !strings.Contains(rest, "\"POST ") || !strings.Contains(rest, "/git-upload-pack ") {
			continue
		}
		at := time.UnixMilli(int64(sec * 1000))
		if at.Before(push) {
			continue
		}
		ro.Packs++
		if at.Before(end) {
			ro.FirstPeriodPacks++
		}
	}
	r.logf("the push's first poll period: %d packs, %.1f server CPU-seconds; %d packs in all", ro.FirstPeriodPacks, ro.FirstPeriodCPU, ro.Packs)
}

// httpRequests counts the lines of the web server's access log.
func (r *run) httpRequests() int64 {
	if r.cfg.Server == GitDaemon {
		return 0
	}
	b, _ := os.ReadFile(filepath.Join(r.cfg.Dir, "server", "access.log"))
	return int64(strings.Count(string(b), "\n"))
}

func (r *run) stop() {
	r.stopAgents()
	if r.px != nil {
		r.px.close()
	}
	if r.srv != nil {
		r.srv.stop()
	}
	if r.samp != nil {
		r.samp.stop()
	}
}

var errAgentsDied = errors.New("an agent process exited")

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
