package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// An item rulekeeper does not edit is Falco's to judge (falco -V), even one
// whose name is empty: the plan goes on and edits the rule it manages.
func TestEmptyNameElsewhereIsFalcosToJudge(t *testing.T) {
	root := node032(t)
	writeNode(t, root, "/etc/falco/rules.d/a.yaml", []byte("- rule:\n  desc: x\n- list:\n  items: []\n"))
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if len(p.Files) != 1 || p.Files[0].Path != rulesPath {
		t.Fatalf("plan:\n%s", p.Summary())
	}
}

// A text quoted in a message is cut after n bytes, never at n.
func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string
	}{
		{strings.Repeat("x", 40), strings.Repeat("x", 40)},
		{strings.Repeat("x", 41), strings.Repeat("x", 40) + "..."},
	} {
		if got := truncate(tc.s, 40); got != tc.want {
			t.Errorf("truncate(%d bytes) = %q", len(tc.s), got)
		}
	}
}
