package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Each value keeps its own style where the new text fits it: quoted stays
// quoted (single quotes doubled inside), a plain value over several lines
// stays plain on its lines; a plain value whose new text would read back as
// something else, and a block whose new text has a line break, become one
// double-quoted line. Falco reads the new text in every case (the check
// before the write parses it back).
func TestValueStyles(t *testing.T) {
	rule := func(name, output string) string {
		return "- rule: " + name + "\n  desc: d\n  condition: evt.type=open\n  output: " + output + "\n  priority: NOTICE\n"
	}
	local := rule("single", "'it''s open %fd.name'") +
		rule("double", "\"open %fd.name\"") +
		rule("plain lines", "open\n    %fd.name\n    by %proc.name") +
		rule("plain", "open %fd.name") +
		rule("block", ">\n    open %fd.name")
	replace := func(s string) *policy.Output { return &policy.Output{Replace: &s} }
	d := policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}, Rules: []policy.Rule{
		{Name: "single", Output: &policy.Output{Prefix: "NEW 'X'"}},
		{Name: "double", Output: &policy.Output{Prefix: "NEW"}},
		{Name: "plain lines", Output: &policy.Output{Include: []string{"user=%user.name"}}},
		{Name: "plain", Output: &policy.Output{Prefix: "NEW: SHELL"}},
		{Name: "block", Output: replace("two\nlines %fd.name")},
	}}
	root := node032(t)
	writeNode(t, root, localPath, []byte(local))
	mustApply(t, d, opts(root))
	got := readNode(t, root, localPath)
	for _, want := range []string{
		"  output: 'NEW ''X'' it''s open %fd.name'\n",
		"  output: \"NEW open %fd.name\"\n",
		"  output: open\n    %fd.name\n    by %proc.name\n    user=%user.name\n",
		"  output: \"NEW: SHELL open %fd.name\"\n",
		"  output: \"two\\nlines %fd.name\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the file does not hold %q:\n%s", want, got)
		}
	}
	if !mustPlan(t, d, opts(root)).Empty() {
		t.Fatal("second plan not empty")
	}
}
