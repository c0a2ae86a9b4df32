package reconcile

import (
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// A converged node is planned from the inputs' hashes alone: no file is
// cut or parsed, so the pass allocates a fraction of what a pass after a
// policy change does (about 330 allocations against 1,600 on 0.32.1).
func TestConvergedPlanDoesNoParsing(t *testing.T) {
	root := node032(t)
	d := exam(policy.InPlace)
	mustApply(t, d, opts(root))
	converged := testing.AllocsPerRun(5, func() { mustPlan(t, d, opts(root)) })
	other := examWith(policy.InPlace, func(r *policy.Rule) { r.Priority = ptr("WARNING") })
	changed := testing.AllocsPerRun(5, func() { mustPlan(t, other, opts(root)) })
	if converged*2 > changed {
		t.Fatalf("a converged plan allocates %.0f times, a changed one %.0f: the converged one does the work", converged, changed)
	}
}
