package daemon

// Rollout waves: before a pass applies a new head commit, the node decides
// from the head's rollout block, its own wave and the commit's time whether
// its turn has come. Until then the pass runs the policy the node has (the
// last good one), so drift is put back by the same path as ever.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/alert"
	"github.com/rulekeeper/rulekeeper/agent/gate"
	"github.com/rulekeeper/rulekeeper/agent/rollout"
	"github.com/rulekeeper/rulekeeper/agent/source"
	"github.com/rulekeeper/rulekeeper/policy"
)

// headRollout is the loop's memory of the head commit's rollout block, read
// once per head.
type headRollout struct {
	commit   string
	settings *policy.Rollout // nil: none, or a policy that does not load (refused by the pass)
	told     string          // the decision last alerted, so that each is told once
}

// holdHead decides whether this pass keeps the node's policy rather than
// apply the head rev. When it holds, at is when the node's wave comes
// (zero: unknown), so that the pass after comes in time.
func (d *Daemon) holdHead(ctx context.Context, rev source.Revision) (hold bool, at time.Time) {
	ls := &d.loop
	if ls.head.commit != rev.Commit {
		ls.head = headRollout{commit: rev.Commit}
		if p, diags := policy.Load(rev.Dir); !diags.HasErrors() {
			ls.head.settings, _ = p.Rollout()
		}
	}
	r := ls.head.settings
	if r == nil {
		if ls.status.Rollout != nil {
			ls.status.Rollout = nil
			d.saveStatus()
		}
		d.alerts.ObserveRollout(alert.RolloutInfo{Wave: -1, State: "applied"})
		return false, time.Time{}
	}
	now := time.Now()
	place := rollout.Place(r, d.node.Hostname, d.node.Labels)
	st := &agent.RolloutStatus{Wave: place.Wave, WaveName: place.Name, Waves: len(r.Waves), PlacedBy: place.By,
		Head: rev.Commit, HeadTime: rev.Time, FirstSeen: now}
	if seen := d.firstSeen(rev.Commit); !seen.IsZero() && seen.Before(now) {
		st.FirstSeen = seen // listed on the server before it was fetched
	}
	if old := ls.status.Rollout; old != nil && old.Head == rev.Commit && !old.FirstSeen.IsZero() {
		st.FirstSeen = old.FirstSeen
	}
	dec := rollout.Decide(r, place, rollout.Head{Commit: rev.Commit, Time: rev.Time, FirstSeen: st.FirstSeen,
		Message: rev.Message, Verified: rev.Verified}, now)
	st.State, st.Reason, st.ApplyAfter = dec.State, dec.Reason, dec.ApplyAfter
	st.Note = joinNotes(place.Warning, dec.Note)

	gdir, gcommit := d.good()
	switch {
	case gcommit == rev.Commit:
		st.State, st.Reason, st.ApplyAfter = "applied", "the node runs the head", time.Time{}
	case gdir == "":
		// A node that has applied nothing yet has no policy to hold on to
		// and only ever fetches the head: it applies the head at once.
		st.State, st.Reason = rollout.StateApply, "no policy was applied on this node yet: it applies the head at once"
	case dec.State == rollout.StateGate:
		d.askGate(ctx, r.Gate, place, st)
		// The same answer as the last poll's keeps its time: a gate that
		// holds for hours does not rewrite the status file on every poll.
		if old := ls.status.Rollout; old != nil && old.Gate != nil && sameAnswer(old.Gate, st.Gate) {
			st.Gate.Time = old.Gate.Time
		}
	}
	if st.State == rollout.StateApply {
		st.State = "applied"
	}
	hold = st.State != "applied"
	d.tellRollout(ctx, st, r)
	// The metrics first: whoever reads the status file finds /metrics
	// already saying the same.
	m := alert.RolloutInfo{Wave: place.Wave, State: st.State}
	if hold {
		m.Pending, m.ApplyAfter = rev.Commit, st.ApplyAfter
		if st.State == rollout.StateWaiting {
			at = st.ApplyAfter
		}
	}
	d.alerts.ObserveRollout(m)
	ls.status.Rollout = st
	d.saveStatus()
	return hold, at
}

// askGate runs the gate's query for the head; the node holds while the
// value is above the threshold, and when Prometheus cannot answer unless
// on_error says proceed.
func (d *Daemon) askGate(ctx context.Context, g *policy.Gate, place rollout.Placement, st *agent.RolloutStatus) {
	q := policy.ExpandQuery(g.Query, st.Head, place.Wave)
	v, err := gate.Query(ctx, nil, g.Prometheus, q, g.Timeout)
	st.Gate = &agent.GateCheck{Time: time.Now().UTC(), Query: q, Threshold: g.Threshold}
	switch {
	case err != nil && g.OnError == policy.GateProceed:
		st.Gate.Error = err.Error()
		st.State = rollout.StateApply
		st.Reason += fmt.Sprintf("; the gate could not be asked (%v) and on_error is \"proceed\"", err)
	case err != nil:
		st.Gate.Error = err.Error()
		st.State = rollout.StateGateError
		st.Reason += fmt.Sprintf("; the gate could not be asked, so the node holds (on_error \"hold\"): %v", err)
	case v > g.Threshold:
		st.Gate.Value = &v
		st.State = rollout.StateGateHeld
		st.Reason += fmt.Sprintf("; the gate holds it: %s = %g, above the threshold %g", q, v, g.Threshold)
	default:
		st.Gate.Value = &v
		st.State = rollout.StateApply
		st.Reason += fmt.Sprintf("; the gate passed: %s = %g, not above %g", q, v, g.Threshold)
	}
}

// tellRollout alerts a decision about the head once (a new head, a new
// state): a node waiting for its wave is told once, a gate that holds is
// told once and rechecked on every poll without a new alert.
func (d *Daemon) tellRollout(ctx context.Context, st *agent.RolloutStatus, r *policy.Rollout) {
	key := st.Head + "\x00" + st.State
	if d.loop.head.told == key {
		return
	}
	d.loop.head.told = key
	ev := alert.Event{Kind: alert.Rollout, Commit: st.Head, Priority: "Informational",
		Fields: map[string]string{"wave": fmt.Sprint(st.Wave), "wave_name": st.WaveName, "placed_by": st.PlacedBy, "state": st.State}}
	switch st.State {
	case "applied":
		if st.Note == "" && !strings.Contains(st.Reason, "gate") {
			return // the applied event tells it
		}
		ev.Message = fmt.Sprintf("rollout: wave %d applies commit %s: %s", st.Wave, short(st.Head), st.Reason)
	case rollout.StateWaiting:
		ev.Message = fmt.Sprintf("rollout: commit %s waits for wave %d (%s) of %d: it applies after %s; until then the node keeps its policy",
			short(st.Head), st.Wave, st.WaveName, len(r.Waves), st.ApplyAfter.UTC().Format(time.RFC3339))
	case rollout.StatePaused:
		ev.Message = fmt.Sprintf("rollout: commit %s is held: %s", short(st.Head), st.Reason)
	default: // the gate holds
		ev.Priority = "Warning"
		ev.Message = fmt.Sprintf("rollout: commit %s is held on wave %d: %s", short(st.Head), st.Wave, st.Reason)
	}
	if !st.ApplyAfter.IsZero() {
		ev.Fields["apply_after"] = st.ApplyAfter.UTC().Format(time.RFC3339)
	}
	if st.Note != "" {
		ev.Message += "; note: " + st.Note
		ev.Fields["note"] = st.Note
	}
	d.alerts.Emit(ctx, ev)
}

func sameAnswer(a, b *agent.GateCheck) bool {
	return a.Query == b.Query && a.Error == b.Error && a.Threshold == b.Threshold &&
		(a.Value == nil) == (b.Value == nil) && (a.Value == nil || *a.Value == *b.Value)
}

func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
