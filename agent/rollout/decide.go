package rollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Head is the commit at the head of the policy branch, as this node met it.
type Head struct {
	Commit string
	Time   time.Time // committer time; zero when unknown
	// FirstSeen is when this node first found Commit at the head.
	FirstSeen time.Time
	// Message is the commit message, for its `Rollout: immediate` trailer.
	Message string
	// Verified says the node checked the commit's signature against its
	// keyring: only then does the trailer count.
	Verified bool
}

// States a decision can be in; the values are the bounded label set of
// rulekeeper_rollout_state.
const (
	StateApply    = "apply"     // apply the head now
	StateWaiting  = "waiting"   // the node's wave has not come yet
	StatePaused   = "paused"    // the rollout is paused past the canary wave
	StateGate     = "gate"      // the wave has come; the gate decides
	StateGateHeld = "gate_held" // the gate's query is above its threshold
	// StateGateError: the gate could not be asked and on_error is "hold".
	StateGateError = "gate_error"
)

// States lists every state, for metrics shown at zero.
var States = []string{StateApply, StateWaiting, StatePaused, StateGate, StateGateHeld, StateGateError}

// Decision says what the node does with the head.
type Decision struct {
	State string
	// Start is when the rollout of the head began: the committer time, or
	// when the node first saw the head if that is earlier (a commit dated
	// in the future does not make its waves come early).
	Start time.Time
	// ApplyAfter is when the node's wave comes; zero when applying at once
	// or paused.
	ApplyAfter time.Time
	Reason     string
	// Note is something the node ignored and must tell, such as a trailer
	// it could not trust.
	Note string
}

// Apply tells whether the node applies the head now, without a gate.
func (d Decision) Apply() bool { return d.State == StateApply }

// Decide tells what a node in wave p does with head h at time now, under the
// rollout r of h's policy (nil: no rollout block, every node applies at once).
// A StateGate decision means the wave has come and the gate must pass first.
func Decide(r *policy.Rollout, p Placement, h Head, now time.Time) Decision {
	if r == nil {
		return Decision{State: StateApply, Reason: "the policy has no rollout block"}
	}
	var note string
	if Immediate(h.Message) {
		if h.Verified {
			return Decision{State: StateApply, Reason: "the commit's trailer \"Rollout: immediate\" sends it to every wave at once (its signature is verified)"}
		}
		note = "the commit's trailer \"Rollout: immediate\" is ignored: this agent does not verify commit signatures (source { verify { keyring } }), so the trailer could come from anyone"
	}
	d := Decision{Start: h.FirstSeen, Note: note}
	if !h.Time.IsZero() && (d.Start.IsZero() || h.Time.Before(d.Start)) {
		d.Start = h.Time
	}
	if p.Wave == 0 {
		d.State, d.Reason = StateApply, fmt.Sprintf("wave 0 (%s), the canary, applies a new head at once", p.Name)
		return d
	}
	if r.Paused {
		d.State, d.Reason = StatePaused, fmt.Sprintf("the rollout is paused: only wave 0 applies; this node is in wave %d (%s)", p.Wave, p.Name)
		return d
	}
	d.ApplyAfter = d.Start.Add(time.Duration(p.Wave) * r.Delay)
	if now.Before(d.ApplyAfter) {
		d.State, d.Reason = StateWaiting, fmt.Sprintf("wave %d (%s) applies the head %v after it began (%s)", p.Wave, p.Name, time.Duration(p.Wave)*r.Delay, d.Start.UTC().Format(time.RFC3339))
		return d
	}
	d.State, d.Reason = StateApply, fmt.Sprintf("wave %d (%s) has come", p.Wave, p.Name)
	if r.Gate != nil {
		d.State = StateGate
	}
	return d
}

// Immediate tells whether a commit message carries the trailer
// `Rollout: immediate` in its last paragraph, the way git reads trailers
// (the key in any case; the subject line alone is never a trailer).
func Immediate(message string) bool {
	paras := strings.Split(strings.TrimSpace(strings.ReplaceAll(message, "\r\n", "\n")), "\n\n")
	if len(paras) < 2 {
		return false
	}
	for _, line := range strings.Split(paras[len(paras)-1], "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Rollout") && strings.EqualFold(strings.TrimSpace(v), "immediate") {
			return true
		}
	}
	return false
}
