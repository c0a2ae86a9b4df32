package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// The managed key may come first in the entry, before `rule:`: it is
// edited where it stands, and a second one is refused.
func TestManagedKeyFirstInTheEntry(t *testing.T) {
	const entry = "- priority: NOTICE\n  rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: o\n"
	d := examWith(policy.InPlace, func(r *policy.Rule) { r.Output = nil; r.Priority = ptr("WARNING") })
	root := node032(t)
	writeNode(t, root, localPath, []byte(entry))
	mustApply(t, d, opts(root))
	if got, want := readNode(t, root, localPath), strings.Replace(entry, "NOTICE", "WARNING", 1); got != want {
		t.Fatalf("got:\n%s", udiffText(want, got))
	}
	root = node032(t)
	writeNode(t, root, localPath, []byte(entry+"  priority: INFO\n"))
	_, err := MakePlan(d, opts(root))
	if want := localPath + `:6: rule "Terminal shell in container": the key priority appears twice in the entry (also at line 1); remove one`; err == nil || err.Error() != want {
		t.Fatalf("error: %v\nwant: %s", err, want)
	}
}

// Comments beside a value stay where they are: after a one-line value,
// plain or quoted, and on a line of their own at the key's indentation
// after a block.
func TestCommentsBesideValuesStay(t *testing.T) {
	for _, tc := range []struct{ name, before, after string }{
		{"after a plain value", "  output: o\n  priority: NOTICE # loud\n", "  output: NEW o\n  priority: WARNING # loud\n"},
		{"after a double-quoted value", "  output: \"o\" # quoted\n  priority: NOTICE\n", "  output: \"NEW o\" # quoted\n  priority: WARNING\n"},
		{"after a block, at the key's column", "  output: >\n    o\n  # of the priority\n  priority: NOTICE\n", "  output: >\n    NEW\n    o\n  # of the priority\n  priority: WARNING\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const head = "- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n"
			root := node032(t)
			writeNode(t, root, localPath, []byte(head+tc.before))
			mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) {
				r.Output = &policy.Output{Prefix: "NEW"}
				r.Priority = ptr("WARNING")
			}), opts(root))
			if got := readNode(t, root, localPath); got != head+tc.after {
				t.Fatalf("got:\n%s", udiffText(head+tc.after, got))
			}
		})
	}
}

// An empty value with only a tag (`priority: !!str`) keeps its tag: with a
// space after the tag the value goes there; with the line ending at the
// tag the check after the edit refuses it and nothing is written. Both
// also at the very end of a file with no line break after it.
func TestEmptyTaggedValue(t *testing.T) {
	const head = "- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: o\n  priority: !!str"
	for _, tc := range []struct{ tail, want string }{
		{"", ""}, {"\n", ""},
		{" ", head + " WARNING"}, {" \n", head + " WARNING\n"},
	} {
		root := node032(t)
		writeNode(t, root, localPath, []byte(head+tc.tail))
		before := snapshot(t, root)
		p, err := MakePlan(examWith(policy.InPlace, func(r *policy.Rule) { r.Output = nil; r.Priority = ptr("WARNING") }), opts(root))
		if tc.want != "" {
			if err != nil || len(p.Files) != 1 || string(p.Files[0].New) != tc.want {
				t.Errorf("%q: error %v, plan:\n%s", tc.tail, err, p.Summary())
			}
			continue
		}
		if want := localPath + `:1: rule "Terminal shell in container": refusing to write: after the edit priority reads "", not "WARNING"`; err == nil || err.Error() != want {
			t.Errorf("%q: error %v\nwant %s", tc.tail, err, want)
		}
		sameTree(t, before, snapshot(t, root))
	}
}
