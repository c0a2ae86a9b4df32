package reconcile

import (
	"strings"
	"testing"
)

// A shipped file gets a line break at its end when its text has none; an
// empty one is written as the header alone.
func TestFileEndsWithALineBreak(t *testing.T) {
	const head = ownHeader + "# Source: rules/60-team.yaml in the policy.\n"
	for _, tc := range []struct{ content, want string }{
		{"- list: a\n  items: [b]", head + "- list: a\n  items: [b]\n"},
		{"- list: a\n  items: [b]\n", head + "- list: a\n  items: [b]\n"},
		{"", head},
	} {
		root := node032(t)
		mustApply(t, filePolicy(team(tc.content)), opts(root))
		if got := readNode(t, root, teamPath); got != tc.want {
			t.Errorf("%q: written %q, want %q", tc.content, got, tc.want)
		}
	}
}

// A shipped file may fill the rules-file cap with rulekeeper's header, not
// one byte more.
func TestFileAtTheSizeCap(t *testing.T) {
	head := len(ownHeader + "# Source: rules/60-team.yaml in the policy.\n")
	fill := func(n int) string { return "#" + strings.Repeat("x", n-2) + "\n" } // a comment of n bytes
	root := node032(t)
	p := mustPlan(t, filePolicy(team(fill(MaxRulesFileSize-head))), opts(root))
	if len(p.Files) != 1 || len(p.Files[0].New) != MaxRulesFileSize {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	_, err := MakePlan(filePolicy(team(fill(MaxRulesFileSize-head+1))), opts(root))
	if err == nil || !strings.Contains(err.Error(), "with rulekeeper's header it is over the 4 MiB cap on a rules file: split it") {
		t.Fatalf("one byte over the cap: %v", err)
	}
}
