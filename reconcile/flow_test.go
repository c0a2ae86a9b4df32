package reconcile

import (
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
	"go.yaml.in/yaml/v3"
)

// A plain scalar in a flow mapping ends at the first flow indicator, at a
// `: ` or at ` #`, with trailing blanks left out; a colon or hash inside
// the text, and a scalar folded over lines, stay part of it.
func TestFlowScalarEnd(t *testing.T) {
	for _, tc := range []struct{ text, raw string }{
		{"- {rule: r, output: plain text here, priority: NOTICE}\n", "plain text here"},
		{"- {rule: r, output: text   , priority: NOTICE}\n", "text"},
		{"- {rule: r, output: a:b c}\n", "a:b c"},
		{"- {rule: r, output: a#b c}\n", "a#b c"},
		{"- {rule: r, output: a :b c}\n", "a :b c"},
		{"- {rule: r, output: text #a comment\n  }\n", "text"},
		{"- {rule: r, output: first\n    second, priority: NOTICE}\n", "first\n    second"},
		{"- {rule: r, output: last}", "last"},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tc.text), &doc); err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		m := doc.Content[0].Content[0]
		v := mapValue(m, "output")
		text := []byte(tc.text)
		start := nodeOffset(text, lineStarts(text), v)
		end, err := flowScalarEnd(text, start, v)
		if err != nil || string(text[start:end]) != tc.raw {
			t.Errorf("%q: got %q, %v; want %q", tc.text, text[start:end], err, tc.raw)
		}
	}
}

// A key the rule lacks goes into a flow mapping as `, key: value` after the
// last value, before a trailing comma, and taking it out again gives the
// vendor's bytes back.
func TestFlowMappingKeyAddedAndTakenOut(t *testing.T) {
	for _, tc := range []struct{ name, vendor, want string }{
		{"one line", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING}\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, enabled: false}\n"},
		{"blank before the brace", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, enabled: false }\n"},
		{"trailing comma", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, enabled: false, }\n"},
		{"brace on a line of its own", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team,\n   priority: WARNING,\n  }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: team,\n   priority: WARNING, enabled: false,\n  }\n"},
		{"brace on the next line, after a comment line", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING\n# a note\n  }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, enabled: false\n# a note\n  }\n"},
		{"quoted text with a hash on the last line", "- {rule: Team rule, desc: x, condition: proc.name = sh, priority: WARNING, output: \"team \\\" #1\"\n  }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, priority: WARNING, output: \"team \\\" #1\", enabled: false\n  }\n"},
		{"a comment before the brace", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team,\n   priority: WARNING  # 'a note', \"#2\"\n  }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: team,\n   priority: WARNING, enabled: false  # 'a note', \"#2\"\n  }\n"},
		{"a comment after a trailing comma", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: 'team #1',  # note\n   priority: WARNING, # note, too\n  }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: 'team #1',  # note\n   priority: WARNING, enabled: false, # note, too\n  }\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := policy.Desired{Rules: []policy.Rule{{Name: "Team rule", Pos: "team.hcl:1,1", Enabled: ptr(false)}}}
			editedAndBack(t, node032(t), localPath, d, tc.vendor, tc.want)
		})
	}
}
