// Package fleetsim measures what a fleet of rulekeeper agents costs one git
// server and how fast each rollout wave converges: a thousand agents (the
// real daemon code, many to a process, each with its own hostname, clone,
// state and sandbox node) and tens of real rulekeeperd processes poll one
// repository on 127.0.0.1, served by `git daemon` or by smart HTTP (nginx,
// fcgiwrap, git http-backend). It is benchmark code: scripts/bench-fleet.sh
// runs it; no product package imports it.
package fleetsim

import (
	"fmt"
	"io"
	"time"
)

// Config is one run: a server, a fleet, its timing.
type Config struct {
	Name   string
	Dir    string // work folder, emptied first
	Server string // GitDaemon or HTTP
	// GitMaxConnections is git daemon's --max-connections; 0 leaves git's
	// default (32).
	GitMaxConnections int
	// NginxConf is the nginx config rulekeeper ships
	// (packaging/nginx/rulekeeper-git.conf), which the HTTP servers run.
	NginxConf string

	Agents     int    // in-process agents
	AgentProcs int    // processes they are spread over; 0: this process
	Self       string // the fleetsim program, run as `Self agents ...` when AgentProcs > 0
	Daemons    int    // real rulekeeperd processes
	Daemon     string // the built rulekeeperd

	NodeTemplate string // a small Falco node to copy for each agent

	Interval, Splay time.Duration
	// Spread starts the agents at random times within it; 0 starts them
	// all at once, as after a fleet-wide restart.
	Spread time.Duration
	Waves  int
	Delay  time.Duration // between waves
	// Steady is the no-change window measured before the push (0: two
	// intervals plus the splay).
	Steady time.Duration

	Progress io.Writer // nil: quiet
}

func (c *Config) check() error {
	switch {
	case c.Agents+c.Daemons == 0:
		return fmt.Errorf("no agents")
	case c.Daemons > 0 && c.Daemon == "":
		return fmt.Errorf("rulekeeperd processes asked for without the built program (-rulekeeperd)")
	case c.AgentProcs > 0 && c.Self == "":
		return fmt.Errorf("agent processes asked for without the fleetsim program")
	case c.Interval <= 0:
		return fmt.Errorf("interval must be positive")
	case c.Waves > 1 && c.Delay <= 0:
		return fmt.Errorf("%d waves need a delay", c.Waves)
	}
	if c.Steady == 0 {
		c.Steady = 2*c.Interval + c.Splay
	}
	return nil
}

// Result is what a run measured; scripts/bench-fleet.sh writes it as
// dist/fleet/NAME.json.
type Result struct {
	Name        string    `json:"name"`
	Error       string    `json:"error,omitempty"` // why the run stopped short
	Server      string    `json:"server"`
	RefsCache   string    `json:"refs_cache,omitempty"` // how long nginx keeps the ref advertisement
	Started     time.Time `json:"started"`
	LoadAvg     string    `json:"load_average_at_start"` // the machine is shared
	Agents      int       `json:"agents_in_process"`
	AgentProcs  int       `json:"agent_processes"`
	Daemons     int       `json:"rulekeeperd_processes"`
	Interval    string    `json:"interval"`
	Splay       string    `json:"splay"`
	Spread      string    `json:"start_spread"`
	Waves       int       `json:"waves"`
	Delay       string    `json:"wave_delay"`
	GitMaxConns int       `json:"git_daemon_max_connections,omitempty"`

	FirstConverged float64 `json:"first_commit_converged_s"` // start → every node on the first commit
	// CPUAccounting says how the server's CPU was read.
	CPUAccounting string  `json:"server_cpu_accounting"`
	Steady        Steady  `json:"steady"`
	Rollout       Rollout `json:"rollout"`
	InProcess     Usage   `json:"agents_in_process_usage"`
	Processes     Usage   `json:"rulekeeperd_usage"`
	// Warnings are the agents' log lines at warning level and above, by
	// message (in-process agents) or counted (rulekeeperd: "rulekeeperd
	// WARN"/"ERROR").
	Warnings map[string]int     `json:"warnings"`
	Timeline []Second           `json:"timeline"`
	Events   map[string]float64 `json:"events_s"` // seconds since the start
}

// Steady is the no-change window: every poll finds the same commit.
type Steady struct {
	Seconds      float64 `json:"seconds"`
	Polls        int64   `json:"polls"` // connections to the server
	SentPerPoll  float64 `json:"sent_bytes_per_poll"`
	RecvPerPoll  float64 `json:"received_bytes_per_poll"`
	CPUPerPollMs float64 `json:"server_cpu_ms_per_poll"`
	ServerCores  float64 `json:"server_cores_mean"`
	// PeakCores is the server's CPU in its busiest second, PeakOpen the
	// most connections open at once.
	PeakCores float64 `json:"server_cores_peak_1s"`
	PeakOpen  int64   `json:"peak_open_connections"`
	// BytesPerFleetInterval is every node's poll once: bytes per poll times
	// the nodes.
	BytesPerFleetInterval float64 `json:"bytes_per_fleet_interval"`
	// HTTPRequests is the web server's count of requests in the window
	// (its access log), to show how many requests a poll makes.
	HTTPRequests int64 `json:"http_requests,omitempty"`
}

// Rollout is the push of a new commit and its waves.
type Rollout struct {
	Commit       string  `json:"commit"`
	PushAt       float64 `json:"push_s"`        // since the start
	CommitTimeAt float64 `json:"commit_time_s"` // since the start: git keeps whole seconds
	Converged    bool    `json:"all_converged"`
	Waves        []Wave  `json:"waves"`
	PeakCores    float64 `json:"server_cores_peak_1s"`
	PeakOpen     int64   `json:"peak_open_connections"`
	// FirstPeriod is the first poll period after the push (interval +
	// splay): the packs fetched in it (HTTP servers: their access log's
	// POST git-upload-pack) and the server's CPU-seconds; Packs counts
	// every pack after the push.
	FirstPeriodPacks int64   `json:"packs_first_poll_period,omitempty"`
	FirstPeriodCPU   float64 `json:"server_cpu_s_first_poll_period"`
	Packs            int64   `json:"packs_after_push,omitempty"`
}

// Wave is one wave's convergence: the percentiles are seconds after the
// wave's time (the commit time plus the wave's delays, or the push when
// that is later), the moment its nodes may apply.
type Wave struct {
	Wave    int       `json:"wave"`
	Nodes   int       `json:"nodes"`
	Applied int       `json:"applied"`
	DueAt   float64   `json:"due_after_push_s"`
	P50     float64   `json:"p50_s"`
	P95     float64   `json:"p95_s"`
	P100    float64   `json:"p100_s"`
	Within  bool      `json:"within_interval_plus_splay"`
	Times   []float64 `json:"applied_after_push_s"` // sorted, for the curves
}

// Usage is the agents' footprint, per node.
type Usage struct {
	Nodes int `json:"nodes"`
	// RSSPerNodeMB: a process's resident memory over the nodes it runs
	// (in-process agents share one Go runtime; a rulekeeperd is one node).
	RSSPerNodeMB     float64 `json:"rss_per_node_mb"`
	RSSMaxMB         float64 `json:"rss_max_process_mb"`
	CPUPerNodeSteady float64 `json:"cpu_ms_per_node_per_minute_steady"`
	CPUPerNodeRun    float64 `json:"cpu_ms_per_node_whole_run"`
}

// Second is one second of the run.
type Second struct {
	T        int     `json:"t"`
	Cores    float64 `json:"server_cores"`
	Conns    int64   `json:"new_connections"`
	PeakOpen int64   `json:"peak_open"`
}
