package reconcile

import (
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Going from in-place to the override strategy in one pass puts the vendor
// file back and writes the override file from the vendor's rule as that
// pass leaves it, not from the edited one on disk: a priority edited in
// place and no longer managed does not travel into the override file.
func TestInPlaceToOverride(t *testing.T) {
	root, fresh := node032(t), node032(t)
	mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Priority = ptr("WARNING") }), at(root, "0.32.1"))
	mustApply(t, exam(policy.Override), at(root, "0.32.1"))
	mustApply(t, exam(policy.Override), at(fresh, "0.32.1"))
	for _, f := range []string{rulesPath, policy.DefaultOverrideFile} {
		if got, want := readNode(t, root, f), readNode(t, fresh, f); got != want {
			t.Errorf("%s:\n%s", f, udiffText(want, got))
		}
	}
}
