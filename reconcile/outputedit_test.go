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

// A prefix holding a line break, or starting with a space, cannot be a line
// of a folded block (the break would read as a space, the space would make
// a more-indented line): the value becomes one text, in a style that keeps
// it, and Falco reads the prefix then the old text.
func TestFoldedOutputPrefixThatCannotBeALine(t *testing.T) {
	for _, prefix := range []string{"NEW\nSHELL", " NEW"} {
		root := node032(t)
		writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: >\n    Shell spawned\n    shell=%proc.name\n  priority: NOTICE\n"))
		mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Output = &policy.Output{Prefix: prefix} }), opts(root))
		items := parseRules(t, readNode(t, root, localPath))
		if got, want := items[0]["output"].(string), prefix+" Shell spawned shell=%proc.name"; strings.TrimRight(got, "\n") != want {
			t.Errorf("Falco reads the output %q, want %q", got, want)
		}
	}
}

// A block keeps its style where the edited text still fits it: a folded
// block with a more-indented line (whose line breaks are part of the
// text), and a literal block with an indentation indicator (`|2`) whose
// text starts with a space.
func TestBlockStylesKept(t *testing.T) {
	const head = "- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n"
	for _, tc := range []struct {
		name, before, after string
		output              policy.Output
	}{
		{"more-indented line", "  output: >\n    Shell spawned\n      (indented)\n    shell=%proc.name\n",
			"  output: >\n    NEW\n    Shell spawned\n      (indented)\n    shell=%proc.name\n", policy.Output{Prefix: "NEW"}},
		{"more-indented line, include", "  output: >\n    Shell spawned\n      (indented)\n    shell=%proc.name\n",
			"  output: >\n    Shell spawned\n      (indented)\n    shell=%proc.name\n    %proc.pid\n", policy.Output{Include: []string{"%proc.pid"}}},
		{"indentation indicator", "  output: |2\n     Shell spawned\n",
			"  output: |2\n    NEW  Shell spawned\n", policy.Output{Prefix: "NEW"}},
		{"plain over lines, a prefix with a leading space", "  output: Shell spawned\n    shell=%proc.name\n",
			"  output: \" NEW Shell spawned shell=%proc.name\"\n", policy.Output{Prefix: " NEW"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			writeNode(t, root, localPath, []byte(head+tc.before+"  priority: NOTICE\n"))
			mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Output = &tc.output }), opts(root))
			if got, want := readNode(t, root, localPath), head+tc.after+"  priority: NOTICE\n"; got != want {
				t.Fatalf("got:\n%s", udiffText(want, got))
			}
		})
	}
}
