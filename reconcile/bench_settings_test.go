package reconcile

import (
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// The exam with falco_settings: the converged pass also hashes falco.yaml
// (and, where Falco merges one, the config folder's files), and parses
// nothing.
func BenchmarkPlanConvergedSettings(b *testing.B) {
	for _, tc := range []struct {
		name, version string
		node          func(testing.TB) string
	}{
		{"0.32.1", "0.32.1", node032},
		{"0.44.1", "0.44.1", node044},
	} {
		b.Run(tc.name, func(b *testing.B) {
			root := tc.node(b)
			d := exam(policy.InPlace)
			d.Settings = &policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning"), Pos: "settings.hcl:1,1"}
			o := versioned(root, tc.version)
			mustApply(b, d, o)
			b.ReportAllocs()
			for b.Loop() {
				p, err := MakePlan(d, o)
				if err != nil || !p.Empty() {
					b.Fatal(err, p.Summary())
				}
			}
		})
	}
}

// The first plan of the settings alone: falco.yaml parsed and edited
// (0.32.1), or the drop-in written (0.44.1).
func BenchmarkPlanSettings(b *testing.B) {
	for _, tc := range []struct {
		name, version string
		node          func(testing.TB) string
	}{
		{"0.32.1", "0.32.1", node032},
		{"0.44.1", "0.44.1", node044},
	} {
		b.Run(tc.name, func(b *testing.B) {
			root := tc.node(b)
			d := policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace},
				Settings: &policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning"), Pos: "settings.hcl:1,1"}}
			o := versioned(root, tc.version)
			b.ReportAllocs()
			for b.Loop() {
				if p, err := MakePlan(d, o); err != nil || p.Empty() {
					b.Fatal(err)
				}
			}
		})
	}
}
