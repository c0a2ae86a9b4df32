package reconcile

import (
	"testing"

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
