package alert

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RolloutInfo is what a node knows of the rollout of its policy's head, for
// the metrics.
type RolloutInfo struct {
	Wave  int    // the node's wave; -1 when the policy has no rollout block
	State string // one of RolloutStates
	// Pending is the head the node waits to apply, "" when none.
	Pending    string
	ApplyAfter time.Time // when the node's wave comes for Pending; zero: not known (paused)
}

// RolloutStates is the bounded label set of rulekeeper_rollout_state.
var RolloutStates = []string{"applied", "waiting", "paused", "gate_held", "gate_error"}

type rolloutMetrics struct {
	wave       prometheus.Gauge
	state      *prometheus.GaugeVec
	pending    *prometheus.GaugeVec
	applyAfter prometheus.Gauge
	rolledBack *prometheus.GaugeVec
}

func newRolloutMetrics(reg prometheus.Registerer) *rolloutMetrics {
	m := &rolloutMetrics{
		wave: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rulekeeper_rollout_wave",
			Help: "This node's rollout wave (0 is the canary); -1 when the policy has no rollout block."}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rulekeeper_rollout_state",
			Help: "1 for the state of this node's rollout of the head commit: applied, waiting, paused, gate_held or gate_error."}, []string{"state"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rulekeeper_rollout_pending_info",
			Help: "The head commit this node waits to apply (value 1); no series when it waits for none."}, []string{"commit"}),
		applyAfter: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rulekeeper_rollout_apply_after_timestamp_seconds",
			Help: "Unix time at which this node's wave comes for the pending commit; 0 when none is pending or the rollout is paused."}),
		rolledBack: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rulekeeper_rollback_commit_info",
			Help: "The last policy commit this node rolled back because Falco did not come back with it (value 1); no series before the first."}, []string{"commit"}),
	}
	reg.MustRegister(m.wave, m.state, m.pending, m.applyAfter, m.rolledBack)
	m.wave.Set(-1)
	for _, s := range RolloutStates {
		m.state.WithLabelValues(s)
	}
	return m
}

// ObserveRollout sets the rollout metrics; only the one pending commit
// carries a series, so the label's cardinality stays at one.
func (a *Alerter) ObserveRollout(r RolloutInfo) {
	m := a.m.rollout
	m.wave.Set(float64(r.Wave))
	for _, s := range RolloutStates {
		v := 0.0
		if s == r.State {
			v = 1
		}
		m.state.WithLabelValues(s).Set(v)
	}
	m.pending.Reset()
	if r.Pending != "" {
		m.pending.WithLabelValues(r.Pending).Set(1)
	}
	at := 0.0
	if r.Pending != "" && !r.ApplyAfter.IsZero() {
		at = float64(r.ApplyAfter.UnixNano()) / 1e9
	}
	m.applyAfter.Set(at)
}

// RolledBack records that commit was rolled back on this node: the series
// of rulekeeper_rollback_commit_info moves to it (one series, the last).
// rulekeeper_rollbacks_total counts rollbacks (ObserveReload).
func (a *Alerter) RolledBack(commit string) {
	m := a.m.rollout
	m.rolledBack.Reset()
	m.rolledBack.WithLabelValues(commit).Set(1)
}
