package reconcile

import (
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// A converged node is planned from the inputs' hashes alone: no file is
// cut or parsed, so the pass allocates a fraction of what a pass after a
// policy change does (about 330 allocations against 1,600 on 0.32.1).
func TestConvergedPlanDoesNoParsing(t *testing.T) {
	// With settings, falco.yaml and (0.44.1) its config folder's files are inputs too.
	for v, node := range map[string]func(testing.TB) string{"0.32.1": node032, "0.44.1": node044} {
		t.Run(v, func(t *testing.T) {
			root := node(t)
			o := versioned(root, v)
			d := exam(policy.InPlace)
			d.Settings = &policy.Settings{JSONOutput: ptr(true), Pos: "settings.hcl:1,1"} // falco.yaml, or a drop-in
			mustApply(t, d, o)
			if p := mustPlan(t, d, o); p.order != nil { // the load order is worked out past the fast path only
				t.Fatal("the converged plan missed the fast path: the state's inputs do not match the files")
			}
			converged := testing.AllocsPerRun(5, func() { mustPlan(t, d, o) })
			other := examWith(policy.InPlace, func(r *policy.Rule) { r.Priority = ptr("WARNING") })
			changed := testing.AllocsPerRun(5, func() { mustPlan(t, other, o) })
			if converged*2 > changed {
				t.Fatalf("a converged plan allocates %.0f times, a changed one %.0f: the converged one does the work", converged, changed)
			}
		})
	}
}
