// Package fleet is `rulekeeper fleet`: the fleet as the Prometheus that
// scrapes its agents sees it, read over Prometheus's HTTP API into a plain
// View (the commits and their node counts, the nodes behind, not
// converged, drifted, tampered with, rolled back or silent) and rendered as
// a table or JSON. It lives in rulekeeperd, the program that already
// carries the HTTP code, so that the command line's plan and apply start
// without it.
package fleet

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// Window is how far back events count (drift, tampering, rollbacks), as
// in the alert rules.
const Window = time.Hour

// StalePass is the age of a node's last successful pass from which it is
// reported (the alert RulekeeperNoSuccessfulPass's threshold).
const StalePass = 15 * time.Minute

// View is the fleet at one moment, as Prometheus saw it.
type View struct {
	Prometheus string    `json:"prometheus"`
	Job        string    `json:"job"`
	At         time.Time `json:"at"`
	// Newest is the applied commit with the greatest committer time; ""
	// when no node reports a commit time (local policy folders).
	Newest  string   `json:"newest_commit,omitempty"`
	Commits []Commit `json:"commits"` // newest first
	Nodes   []Node   `json:"nodes"`   // every target of the job, by instance
}

// Commit is one applied commit and how many reporting nodes run it.
type Commit struct {
	Commit string    `json:"commit"`
	Time   time.Time `json:"committed,omitzero"`
	Nodes  int       `json:"nodes"`
}

// Node is one target of the job.
type Node struct {
	Instance  string `json:"instance"`
	Up        bool   `json:"up"`
	Commit    string `json:"commit,omitempty"`
	Converged bool   `json:"converged"`
	Behind    bool   `json:"behind"`
	// Wave is the node's rollout wave, nil when its policy has no rollout
	// block; Rollout its rollout state (applied, waiting, paused,
	// gate_held, gate_error) and WaveAt when its wave comes for the head
	// it waits for.
	Wave        *int      `json:"wave,omitempty"`
	Rollout     string    `json:"rollout,omitempty"`
	WaveAt      time.Time `json:"wave_at,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Events of the last Window.
	DriftRestored int `json:"drift_restored"`
	DriftLeft     int `json:"drift_left"`
	Tampered      int `json:"tampered"`
	RolledBack    int `json:"rolled_back"`
	// Problems says in words what is wrong, empty when nothing is.
	Problems []string `json:"problems"`
}

// Settled says whether every node reports, runs the newest commit and is
// converged: `rulekeeper fleet` exits 0 then, else 2. Events of the last
// hour are shown; alone, they do not unsettle a fleet.
func (v View) Settled() bool {
	return len(v.Nodes) > 0 && !slices.ContainsFunc(v.Nodes, func(n Node) bool { return !n.settled() })
}

func (n Node) settled() bool { return n.Up && n.Converged && !n.Behind && n.Commit != "" }

// Read asks Prometheus, at one moment of its clock, about every target of
// job and builds the View. A job with no target is an error: --job is
// probably not the scrape config's job_name.
func Read(ctx context.Context, c *Client, job string) (View, error) {
	now, err := c.query(ctx, "time()", time.Time{})
	if err != nil {
		return View{}, err
	}
	if len(now) != 1 {
		return View{}, fmt.Errorf("%s: time() gave %d values", c.URL(), len(now))
	}
	at := time.UnixMilli(int64(math.Round(now[0].Value * 1000))).UTC()
	sel := "{job=" + strconv.Quote(job) + "}"
	win := "[" + strconv.Itoa(int(Window.Seconds())) + "s]"
	queries := []string{
		"up" + sel,
		"rulekeeper_applied_commit_info" + sel,
		"rulekeeper_applied_commit_timestamp_seconds" + sel,
		"rulekeeper_converged" + sel,
		"rulekeeper_last_success_timestamp_seconds" + sel,
		"sum by (instance, restored) (increase(rulekeeper_drift_events_total" + sel + win + "))",
		"sum by (instance) (increase(rulekeeper_tamper_events_total" + sel + win + "))",
		"sum by (instance) (increase(rulekeeper_rollbacks_total" + sel + win + "))",
		"rulekeeper_rollout_wave" + sel + " >= 0",
		"rulekeeper_rollout_state" + sel + " == 1",
		"rulekeeper_rollout_apply_after_timestamp_seconds" + sel + " > 0",
	}
	res := make([][]sample, len(queries))
	for i, q := range queries {
		if res[i], err = c.query(ctx, q, at); err != nil {
			return View{}, err
		}
	}
	if len(res[0]) == 0 {
		return View{}, fmt.Errorf("the Prometheus at %s has no target of job %q: give --job the job_name its scrape config gives the agents", c.URL(), job)
	}
	return build(c.URL(), job, at, res), nil
}

// build makes the View from the answers to Read's queries, in their order.
func build(url, job string, at time.Time, res [][]sample) View {
	up, info, when, conv, last, drift, tamper, rollbacks := res[0], res[1], res[2], res[3], res[4], res[5], res[6], res[7]
	wave, rollout, waveAt := res[8], res[9], res[10]
	nodes := map[string]*Node{}
	for _, s := range up {
		nodes[s.Labels["instance"]] = &Node{Instance: s.Labels["instance"], Up: s.Value == 1}
	}
	each := func(ss []sample, f func(n *Node, s sample)) {
		for _, s := range ss {
			if n := nodes[s.Labels["instance"]]; n != nil {
				f(n, s)
			}
		}
	}
	count := func(v float64) int { // increase() extrapolates: 0.97 is one event
		if v <= 0 || math.IsNaN(v) {
			return 0
		}
		return max(1, int(math.Round(v)))
	}
	each(info, func(n *Node, s sample) { n.Commit = s.Labels["commit"] })
	each(conv, func(n *Node, s sample) { n.Converged = s.Value == 1 })
	each(last, func(n *Node, s sample) {
		if s.Value > 0 {
			n.LastSuccess = time.Unix(int64(s.Value), 0).UTC()
		}
	})
	each(drift, func(n *Node, s sample) {
		if s.Labels["restored"] == "false" {
			n.DriftLeft += count(s.Value)
		} else {
			n.DriftRestored += count(s.Value)
		}
	})
	each(tamper, func(n *Node, s sample) { n.Tampered += count(s.Value) })
	each(rollbacks, func(n *Node, s sample) { n.RolledBack += count(s.Value) })
	each(wave, func(n *Node, s sample) { w := int(s.Value); n.Wave = &w })
	each(rollout, func(n *Node, s sample) { n.Rollout = s.Labels["state"] })
	each(waveAt, func(n *Node, s sample) { n.WaveAt = time.Unix(int64(s.Value), 0).UTC() })

	v := View{Prometheus: url, Job: job, At: at}
	commits := map[string]*Commit{}
	for _, s := range when {
		c := s.Labels["commit"]
		commits[c] = &Commit{Commit: c, Time: time.Unix(int64(s.Value), 0).UTC()}
		if n := nodes[s.Labels["instance"]]; n != nil && n.Commit == "" {
			n.Commit = c
		}
	}
	var newest *Commit
	for _, n := range nodes {
		if n.Commit == "" || !n.Up {
			continue
		}
		c := commits[n.Commit]
		if c == nil {
			c = &Commit{Commit: n.Commit}
			commits[n.Commit] = c
		}
		c.Nodes++
		if !c.Time.IsZero() && (newest == nil || c.Time.After(newest.Time)) {
			newest = c
		}
	}
	for _, c := range commits {
		if c.Nodes > 0 {
			v.Commits = append(v.Commits, *c)
		}
	}
	slices.SortFunc(v.Commits, func(a, b Commit) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.Nodes, a.Nodes), cmp.Compare(a.Commit, b.Commit))
	})
	if newest != nil {
		v.Newest = newest.Commit
	}
	for _, name := range slices.Sorted(maps.Keys(nodes)) {
		n := nodes[name]
		if c := commits[n.Commit]; newest != nil && n.Up && c != nil && !c.Time.IsZero() && c.Time.Before(newest.Time) {
			n.Behind = true
		}
		n.Problems = problems(*n, at)
		v.Nodes = append(v.Nodes, *n)
	}
	return v
}

// waiting says why a node behind has not taken the head yet, when its
// rollout says so.
func waiting(n Node) string {
	switch n.Rollout {
	case "waiting":
		if !n.WaveAt.IsZero() {
			return " (waiting for its wave, due " + n.WaveAt.Format(time.RFC3339) + ")"
		}
		return " (waiting for its wave)"
	case "paused":
		return " (the rollout is paused)"
	case "gate_held":
		return " (the rollout gate holds the head)"
	case "gate_error":
		return " (the rollout gate cannot be asked)"
	}
	return ""
}

// problems says what is wrong with a node, most urgent first.
func problems(n Node, at time.Time) []string {
	p := []string{}
	if !n.Up {
		return append(p, "silent: Prometheus cannot scrape it")
	}
	if n.Commit == "" {
		p = append(p, "no commit applied")
	}
	if n.Behind {
		p = append(p, "behind"+waiting(n))
	}
	if !n.Converged {
		p = append(p, "not converged")
	}
	if n.LastSuccess.IsZero() || at.Sub(n.LastSuccess) > StalePass {
		since := "never"
		if !n.LastSuccess.IsZero() {
			since = at.Sub(n.LastSuccess).Round(time.Minute).String() + " ago"
		}
		p = append(p, "last successful pass: "+since)
	}
	for _, e := range []struct {
		n    int
		what string
	}{{n.RolledBack, "rolled back"}, {n.Tampered, "tampered with"}, {n.DriftLeft, "drifted (left in place)"}, {n.DriftRestored, "drifted (put back)"}} {
		if e.n > 0 {
			p = append(p, fmt.Sprintf("%s ×%d in the last hour", e.what, e.n))
		}
	}
	return p
}
