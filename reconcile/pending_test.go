package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// A pass killed after it saved the state and before it wrote its files:
// the next pass takes the files for what they are. Here in_place A, then a
// switch to override killed before falco_rules.yaml got the vendor's value
// back, then in_place B: B goes on the vendor's text, not on top of A.
func TestKilledBeforeFilesWritten(t *testing.T) {
	root := node032(t)
	mustApply(t, exam(policy.InPlace), opts(root))
	p := mustPlan(t, exam(policy.Override), opts(root))
	if len(p.Files) != 2 {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	// What Apply does before it writes a file, and no more.
	p.record(p.next)
	if err := p.next.save(p.opts.StatePath()); err != nil {
		t.Fatal(err)
	}
	b := examWith(policy.InPlace, func(r *policy.Rule) { r.Output.Prefix = "SHELL B:" })
	mustApply(t, b, opts(root))
	got := readNode(t, root, rulesPath)
	if strings.Contains(got, "NEW SHELL!!!") || !strings.Contains(got, "SHELL B: user_id=%user.uid") {
		t.Fatalf("the edit stacked on the earlier one:\n%s", strings.Join(diffLines(t, vendor032, filepath.Join(root, rulesPath)), "\n"))
	}
	if !mustPlan(t, b, opts(root)).Empty() {
		t.Fatal("plan after the pass not empty")
	}
	// A pass that finished marks it: the next one trusts its records
	// without looking at the files' old hashes.
	if _, err := os.Stat(filepath.Join(root, "var/lib/rulekeeper", doneFile)); err != nil {
		t.Fatal(err)
	}
}

// The state is saved before any rules file changes: a state rulekeeper
// cannot save stops the pass with every rules file as it was, not replaced
// and put back, over both strategies. Here the state directory's path is
// taken by a regular file after the plan was made.
func TestStateSavedFirst(t *testing.T) {
	for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
		t.Run(string(s), func(t *testing.T) {
			root := node032(t)
			mustApply(t, exam(s), opts(root))
			b := examWith(s, func(r *policy.Rule) { r.Output.Prefix = "SHELL B:" })
			p := mustPlan(t, b, opts(root))
			var files []string
			for _, fc := range p.Files {
				if fc.Action != Update {
					t.Fatalf("plan:\n%s", p.Summary())
				}
				files = append(files, fc.Path)
			}
			if len(files) == 0 {
				t.Fatal("nothing to write")
			}
			if err := os.RemoveAll(filepath.Join(root, "var/lib/rulekeeper")); err != nil {
				t.Fatal(err)
			}
			writeNode(t, root, "/var/lib/rulekeeper", []byte("not a directory\n"))
			before := snapshot(t, root)
			untouched := heldOpen(t, root, files...)
			_, err := Apply(p)
			if err == nil || !strings.Contains(err.Error(), "saving state") {
				t.Fatalf("want the pass stopped at saving the state, got %v", err)
			}
			untouched()
			sameTree(t, before, snapshot(t, root))
		})
	}
}
