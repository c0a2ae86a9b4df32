package fleetlab

import (
	"context"
	"testing"
)

// The story plays out as the package says, seen through Prometheus.
func TestStory(t *testing.T) {
	f := Run(t)
	for _, q := range []string{"rulekeeper_applied_commit_info", "rulekeeper_converged", "up", "rulekeeper_rollout_wave", "rulekeeper_rollout_state == 1"} {
		got, err := f.Prom.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			t.Logf("%s %v %v", q, s.Labels, s.Value)
		}
	}
	t.Logf("took %v", f.End.Sub(f.Start))
}
