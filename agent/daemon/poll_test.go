package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
)

// Polls come every interval from the first pass, shifted by an offset
// below the splay that the daemon draws once: passes between polls (an
// edit, a trigger) do not move the next one, so no gap is longer than the
// interval, and nodes started together poll apart.
func TestPollsKeepTheirCadence(t *testing.T) {
	t.Parallel()
	for _, splay := range []time.Duration{0, time.Minute} {
		l := newLab(t, labOpts{local: true, interval: "1h"})
		cfg := l.config()
		cfg.Splay = splay
		late := 0
		for range 3 {
			d := newDaemon(t, cfg, Options{Root: l.root})
			start := time.Now()
			first := d.pass(context.Background(), false)
			if off := first.Sub(start) - time.Hour; off < 0 || off >= max(splay, time.Second) {
				t.Errorf("splay %v: first poll in %v, want the interval (1h) plus less than the splay", splay, first.Sub(start))
			}
			if first.Sub(start) > time.Hour+time.Second {
				late++
			}
			for range 3 {
				if at := d.pass(context.Background(), true); !at.Equal(first) {
					t.Errorf("splay %v: a pass between polls moved the next poll by %v", splay, at.Sub(first))
				}
			}
			if !strings.Contains(l.rules(), examLine) {
				t.Errorf("splay %v: the passes did not converge the node", splay)
			}
			closeIdle(d)
		}
		// Three draws of a minute's splay all under a second: (1/60)^3.
		if splay > 0 && late == 0 {
			t.Errorf("splay %v: every daemon's first poll within a second of the interval: the splay is not applied", splay)
		}
	}
}

// The cadence counts from the first poll's time, not from when a pass
// ended: a late poll does not make the next one late, and polls missed
// (a long back-off) are skipped, not made up.
func TestCadence(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := cadence{interval: 30 * time.Second, offset: 7 * time.Second}
	for _, step := range []struct {
		at   time.Duration // after t0
		want time.Duration
	}{
		{0, 37 * time.Second},                // the first pass: interval plus offset
		{10 * time.Second, 27 * time.Second}, // a pass between polls
		{37 * time.Second, 30 * time.Second}, // the poll on time
		{69 * time.Second, 28 * time.Second}, // two seconds late: the next stays at 97 s
		{97 * time.Second, 30 * time.Second},
		{200 * time.Second, 17 * time.Second}, // three polls missed: the next at 217 s
		{217*time.Second - time.Nanosecond, time.Nanosecond},
	} {
		now := t0.Add(step.at)
		if got := c.due(now).Sub(now); got != step.want {
			t.Errorf("at %v: next poll in %v, want %v", step.at, got, step.want)
		}
	}
}

// A pass's next poll: the cadence's, or a fault's back-off counted from
// the pass's end (not from the fault, so that what the pass did after it
// does not eat the server's rest), and never after a wave's time.
func TestWakeup(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	due, end := t0.Add(30*time.Second), t0.Add(2*time.Second)
	for _, c := range []struct {
		name string
		w    wakeup
		want time.Time
	}{
		{"no news", wakeup{}, due},
		{"a fault", wakeup{retry: time.Minute}, end.Add(time.Minute)},
		{"a fault, a wave before its back-off", wakeup{retry: time.Minute, sooner: t0.Add(40 * time.Second)}, t0.Add(40 * time.Second)},
		{"a wave after the poll", wakeup{sooner: t0.Add(40 * time.Second)}, due},
		{"a wave before the poll", wakeup{sooner: t0.Add(10 * time.Second)}, t0.Add(10 * time.Second)},
	} {
		if got := c.w.at(due, end); !got.Equal(c.want) {
			t.Errorf("%s: next poll at t0+%v, want t0+%v", c.name, got.Sub(t0), c.want.Sub(t0))
		}
	}
	var w wakeup
	w.notAfter(t0.Add(20 * time.Second))
	w.notAfter(t0.Add(25 * time.Second))
	w.notAfter(t0.Add(15 * time.Second))
	if !w.sooner.Equal(t0.Add(15 * time.Second)) {
		t.Errorf("notAfter kept t0+%v, want the earliest time given, t0+15s", w.sooner.Sub(t0))
	}
}

// A paused rollout holds a new head on the waves after the first: the node
// keeps its policy, says why once, and polls again at its interval (a hold
// has no time of its own to wait for).
func TestPausedRolloutHolds(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	cfg := l.config()
	cfg.Node.Labels = map[string]string{"rulekeeper_wave": "rest"}
	d, err := New(cfg, Options{Root: l.root})
	if err != nil {
		t.Fatal(err)
	}
	defer closeIdle(d)
	ctx := context.Background()
	d.pass(ctx, false) // a new node applies the head at once
	converged := l.rules()
	head := l.commit("policy.hcl", strings.Replace(rolloutPolicy(t, "", "PAUSED SHELL!!!", "", time.Second), "delay = ", "paused = true\n  delay = ", 1))
	for range 3 {
		if w := time.Until(d.pass(ctx, true)); w > time.Hour || w < time.Hour-time.Minute {
			t.Errorf("next poll in %v while the rollout is paused, want the next of the node's polls (1h after the first)", w)
		}
	}
	if r := d.loop.status.Rollout; r == nil || r.Head != head || r.State != "paused" || !strings.Contains(r.Reason, "paused") {
		t.Errorf("rollout status: %+v", r)
	}
	if l.rules() != converged {
		t.Error("a paused rollout changed the rules file of wave 1")
	}
	if err := d.alerts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var held []hookEvent
	for _, e := range l.hook.events("rollout") {
		if e.f("state") == "paused" {
			held = append(held, e)
		}
	}
	if len(held) != 1 || !strings.Contains(held[0].Output, "is held: the rollout is paused") || held[0].Priority != "Informational" {
		t.Errorf("want one alert that the paused rollout holds the commit:\n%s", l.hook.dump())
	}

	// A head without a rollout block applies at once, and status no
	// longer tells a rollout.
	l.commit("policy.hcl", examPolicy(t, "PLAIN SHELL!!!"))
	d.pass(ctx, true)
	if !strings.Contains(l.rules(), "    PLAIN SHELL!!! user_id") || d.loop.status.Rollout != nil {
		t.Errorf("a head without rollout block: applied %v, rollout status %+v", strings.Contains(l.rules(), "PLAIN SHELL!!!"), d.loop.status.Rollout)
	}
}

// Two answers of a gate are the same when query, threshold, error and
// value are: the status keeps the first one's time.
func TestGateSameAnswer(t *testing.T) {
	t.Parallel()
	one, two := 1.0, 2.0
	base := agent.GateCheck{Query: "q", Threshold: 0, Value: &one}
	if !sameAnswer(&base, &agent.GateCheck{Query: "q", Threshold: 0, Value: &one}) {
		t.Error("the same answer taken for another")
	}
	for name, other := range map[string]agent.GateCheck{
		"query":     {Query: "r", Value: &one},
		"threshold": {Query: "q", Threshold: 1, Value: &one},
		"error":     {Query: "q", Error: "down", Value: &one},
		"value":     {Query: "q", Value: &two},
		"no value":  {Query: "q"},
	} {
		if sameAnswer(&base, &other) || sameAnswer(&other, &base) {
			t.Errorf("answers with another %s taken for the same", name)
		}
	}
	if !sameAnswer(&agent.GateCheck{Query: "q", Error: "down"}, &agent.GateCheck{Query: "q", Error: "down"}) {
		t.Error("two errors alike taken for different answers")
	}
}
