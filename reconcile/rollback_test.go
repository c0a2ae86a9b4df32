package reconcile

import (
	"errors"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Rollback puts the files back as they were and marks the change refused:
// a later pass with the same inputs is refused (it would make the change
// Falco did not take again), one with other inputs is planned.
func TestRollbackRefusesTheSameChange(t *testing.T) {
	root := node032(t)
	before := readNode(t, root, rulesPath)
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if err := Rollback(p); err != nil {
		t.Fatal(err)
	}
	if readNode(t, root, rulesPath) != before {
		t.Fatal("the rules file was not put back")
	}
	if _, err := MakePlan(exam(policy.InPlace), opts(root)); !errors.Is(err, ErrRefused) {
		t.Fatalf("the refused change planned again: %v", err)
	}
	other := examWith(policy.InPlace, func(r *policy.Rule) { r.Priority = ptr("WARNING") })
	if p := mustPlan(t, other, opts(root)); len(p.Files) != 1 {
		t.Fatalf("another change after the refused one:\n%s", p.Summary())
	}
}

// The state lives in the state directory the options name, under the root;
// with none named, in /var/lib/rulekeeper.
func TestStatePath(t *testing.T) {
	for _, tc := range []struct{ dir, want string }{
		{"", "/r/var/lib/rulekeeper"},
		{"/srv/rulekeeper", "/r/srv/rulekeeper"},
	} {
		if got := (Options{Root: "/r", StateDir: tc.dir}).StatePath(); got != tc.want {
			t.Errorf("state dir %q: %s, want %s", tc.dir, got, tc.want)
		}
	}
}
