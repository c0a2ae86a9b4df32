package reconcile

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// flowScalarEnd is the end of the scalar starting at start inside a flow
// mapping. A quoted scalar ends at its closing quote; a plain one at the
// first flow indicator, `: ` or ` #`, spaces trimmed. The text found must
// read as the parser read it, or the edit is refused.
func flowScalarEnd(text []byte, start int, v *yaml.Node) (int, error) {
	if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return start + scalarLen(text[start:], v.Style), nil
	}
	end := start
	for end < len(text) {
		c := text[end]
		if c == ',' || c == '}' || c == ']' || c == '{' || c == '[' {
			break
		}
		if c == ':' && (end+1 == len(text) || strings.ContainsRune(" \t\r\n,}]", rune(text[end+1]))) {
			break
		}
		if c == '#' && end > start && strings.ContainsRune(" \t\r\n", rune(text[end-1])) {
			break
		}
		end++
	}
	for end > start && strings.ContainsRune(" \t\r\n", rune(text[end-1])) {
		end--
	}
	if foldPlain(string(text[start:end])) != v.Value {
		return 0, fmt.Errorf("line %d: cannot tell where the value %q ends in its flow mapping; quote it in the file", v.Line, truncate(v.Value, 40))
	}
	return end, nil
}

// foldPlain is a multi-line plain scalar as YAML reads it: lines trimmed and
// joined by a space, an empty line a line break.
func foldPlain(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var b strings.Builder
	for i, l := range lines {
		l = strings.Trim(l, " \t")
		switch {
		case i == 0:
		case l == "":
			b.WriteByte('\n')
			continue
		case !strings.HasSuffix(b.String(), "\n"):
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

// flowClose is the offset of the `}` closing the flow mapping that opens at
// open, skipping quoted scalars, comments and nested collections.
func flowClose(text []byte, open int) (int, error) {
	depth := 0
	for i := open; i < len(text); i++ {
		switch c := text[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i, nil
			}
		case '"':
			i += scalarLen(text[i:], yaml.DoubleQuotedStyle) - 1
		case '\'':
			i += scalarLen(text[i:], yaml.SingleQuotedStyle) - 1
		case '#':
			if i > 0 && strings.ContainsRune(" \t\r\n", rune(text[i-1])) {
				for i < len(text) && text[i] != '\n' {
					i++
				}
			}
		}
	}
	return 0, fmt.Errorf("cannot find the end of the flow mapping")
}
