package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// A list name far from every list's gets no suggestion; a near one does.
func TestUndefinedListSuggestsOnlyNearNames(t *testing.T) {
	root := node032(t)
	for _, tc := range []struct{ name, hint string }{
		{"zzzzzzzzzzzzzzzzzzzz", ""},
		{"shell_binarys", ` Did you mean "shell_binaries"?`},
	} {
		_, err := MakePlan(listPolicy(policy.InPlace, policy.List{Name: tc.name, Add: []string{"x"}}), opts(root))
		if err == nil || !strings.Contains(err.Error(), "."+tc.hint+" Check the list's name") {
			t.Errorf("%s: error %v, want the hint %q", tc.name, err, tc.hint)
		}
	}
}

// A block list of one item replaced whole gets the new items in its place.
func TestBlockListOfOneReplaced(t *testing.T) {
	root := node032(t)
	const rest = "\n- rule: X\n  desc: x\n  condition: container.image.repository in (team_images)\n  output: x\n  priority: INFO\n"
	writeNode(t, root, localPath, []byte("- list: team_images\n  items:\n    - nginx\n"+rest))
	mustApply(t, listPolicy(policy.InPlace, policy.List{Name: "team_images", Replace: true, Items: []string{"redis", "busybox"}}), opts(root))
	if got, want := readNode(t, root, localPath), "- list: team_images\n  items:\n    - redis\n    - busybox\n"+rest; got != want {
		t.Fatalf("got:\n%s", udiffText(want, got))
	}
}

// A list whose items key has no value (null) reads as an empty list; it
// holds no layout to write items in, so an edit of it is refused with the
// file and line.
func TestNullItemsRefused(t *testing.T) {
	root := node032(t)
	const rest = "\n- rule: X\n  desc: x\n  condition: container.image.repository in (team_images)\n  output: x\n  priority: INFO\n"
	writeNode(t, root, localPath, []byte("- list: team_images\n  items:\n"+rest))
	_, err := MakePlan(listPolicy(policy.InPlace, policy.List{Name: "team_images", Add: []string{"nginx"}}), opts(root))
	if want := localPath + `:2: list "team_images": an empty block list`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// Items added to a block list go after the last item kept, before a
// comment that stood between it and an item removed.
func TestBlockListAddsAfterTheLastKept(t *testing.T) {
	root := node032(t)
	const rest = "\n- rule: X\n  desc: x\n  condition: container.image.repository in (team_images)\n  output: x\n  priority: INFO\n"
	writeNode(t, root, localPath, []byte("- list: team_images\n  items:\n    - nginx\n    # the cache\n    - redis\n"+rest))
	mustApply(t, listPolicy(policy.InPlace, policy.List{Name: "team_images", Remove: []string{"redis"}, Add: []string{"busybox"}}), opts(root))
	if got, want := readNode(t, root, localPath), "- list: team_images\n  items:\n    - nginx\n    - busybox\n    # the cache\n"+rest; got != want {
		t.Fatalf("got:\n%s", udiffText(want, got))
	}
}
