package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The rollout metrics keep one series per label at most: the pending
// commit and the last rolled-back commit replace the one before.
func TestRolloutMetricsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Config{}, nil, reg)
	if v := testutil.ToFloat64(a.m.rollout.wave); v != -1 {
		t.Errorf("wave before any rollout = %v, want -1", v)
	}
	after := time.Unix(1764489600, 0)
	for i, c := range []string{"c1", "c2", "c3"} {
		a.ObserveRollout(RolloutInfo{Wave: 2, State: "waiting", Pending: c, ApplyAfter: after.Add(time.Duration(i) * time.Minute)})
		a.RolledBack(c)
	}
	if n := testutil.CollectAndCount(a.m.rollout.pending); n != 1 {
		t.Errorf("%d pending series, want 1", n)
	}
	if n := testutil.CollectAndCount(a.m.rollout.rolledBack); n != 1 {
		t.Errorf("%d rolled-back series, want 1", n)
	}
	want := `
# HELP rulekeeper_rollout_pending_info The head commit this node waits to apply (value 1); no series when it waits for none.
# TYPE rulekeeper_rollout_pending_info gauge
rulekeeper_rollout_pending_info{commit="c3"} 1
# HELP rulekeeper_rollback_commit_info The last policy commit this node rolled back because Falco did not come back with it (value 1); no series before the first.
# TYPE rulekeeper_rollback_commit_info gauge
rulekeeper_rollback_commit_info{commit="c3"} 1
# HELP rulekeeper_rollout_apply_after_timestamp_seconds Unix time at which this node's wave comes for the pending commit; 0 when none is pending or the rollout is paused.
# TYPE rulekeeper_rollout_apply_after_timestamp_seconds gauge
rulekeeper_rollout_apply_after_timestamp_seconds 1.76448972e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "rulekeeper_rollout_pending_info", "rulekeeper_rollback_commit_info",
		"rulekeeper_rollout_apply_after_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	// Applied: no pending series, the time back to 0, one state at 1.
	a.ObserveRollout(RolloutInfo{Wave: 2, State: "applied"})
	if n := testutil.CollectAndCount(a.m.rollout.pending); n != 0 {
		t.Errorf("%d pending series after applying, want 0", n)
	}
	if v := testutil.ToFloat64(a.m.rollout.applyAfter); v != 0 {
		t.Errorf("apply_after = %v after applying, want 0", v)
	}
	for _, s := range RolloutStates {
		want := 0.0
		if s == "applied" {
			want = 1
		}
		if v := testutil.ToFloat64(a.m.rollout.state.WithLabelValues(s)); v != want {
			t.Errorf("state %s = %v, want %v", s, v, want)
		}
	}
}
