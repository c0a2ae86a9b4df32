package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// An output written as a folded block keeps its lines: a line whose every
// token is excluded goes (an empty line would be a line break in the
// value), a token first on its line is excluded like any other, a prefix
// comes as a line of its own, and a token already there, even first in the
// text, is not included again.
func TestFoldedOutputEdits(t *testing.T) {
	const rule = "- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: >\n    Shell spawned (user=%user.name\n    %container.info\n    shell=%proc.name)\n  priority: NOTICE\n"
	for _, tc := range []struct {
		name   string
		output policy.Output
		want   string // the output lines after the edit
	}{
		{"a whole line excluded", policy.Output{Exclude: []string{"%container.info"}},
			"    Shell spawned (user=%user.name\n    shell=%proc.name)\n"},
		{"a line's first token excluded", policy.Output{Exclude: []string{"Shell"}},
			"    spawned (user=%user.name\n    %container.info\n    shell=%proc.name)\n"},
		{"a prefix", policy.Output{Prefix: "NEW"},
			"    NEW\n    Shell spawned (user=%user.name\n    %container.info\n    shell=%proc.name)\n"},
		{"a token already first", policy.Output{Include: []string{"Shell", "%container.info", "%proc.pid"}},
			"    Shell spawned (user=%user.name\n    %container.info\n    shell=%proc.name)\n    %proc.pid\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			writeNode(t, root, localPath, []byte(rule))
			mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Output = &tc.output }), opts(root))
			want := strings.Replace(rule, "    Shell spawned (user=%user.name\n    %container.info\n    shell=%proc.name)\n", tc.want, 1)
			if got := readNode(t, root, localPath); got != want {
				t.Fatalf("got:\n%s", udiffText(want, got))
			}
		})
	}
}

// A prefix holding a line break cannot be a line of a folded block (the
// break would read as a space): the value becomes one text, in a style
// that keeps the break, and Falco reads the prefix then the old text.
func TestFoldedOutputPrefixWithLineBreak(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: >\n    Shell spawned\n    shell=%proc.name\n  priority: NOTICE\n"))
	mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Output = &policy.Output{Prefix: "NEW\nSHELL"} }), opts(root))
	items := parseRules(t, readNode(t, root, localPath))
	if got, want := items[0]["output"], "NEW\nSHELL Shell spawned shell=%proc.name"; strings.TrimSpace(got.(string)) != want {
		t.Fatalf("Falco reads the output %q, want %q", got, want)
	}
}
