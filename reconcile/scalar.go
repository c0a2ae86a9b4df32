package reconcile

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// scalar is a rule value as lines, the way it is laid out in the file, so
// that a change rewrites only the lines it must: a folded block keeps its
// header, its indentation and every untouched line.
type scalar struct {
	style  yaml.Style
	header string   // block scalars: the indicator line (">", ">-", "|2", ...)
	indent string   // block scalars and multi-line plain: the content lines' indentation
	lines  []string // the content, one entry per line in the file
	// literal is true when line breaks are part of the value (`|`); for every
	// other style a line break reads as a space.
	literal bool
}

// readScalar turns a located value into lines. Layouts it cannot keep (blank
// or more-indented lines in a block, quoted values over several lines) come
// back as one line holding the decoded value; the value is then rewritten
// whole, still in its own style.
func readScalar(raw string, n *yaml.Node) scalar {
	s := scalar{style: n.Style}
	if n.Style&(yaml.FoldedStyle|yaml.LiteralStyle) != 0 {
		s.literal = n.Style&yaml.LiteralStyle != 0
		head, body, _ := strings.Cut(raw, "\n")
		s.header = head
		rows := strings.Split(body, "\n")
		s.indent = rows[0][:len(rows[0])-len(strings.TrimLeft(rows[0], " "))]
		for _, r := range rows {
			c, ok := strings.CutPrefix(r, s.indent)
			if !ok || strings.TrimSpace(c) == "" || c[0] == '\t' {
				return s.whole(n.Value)
			}
			s.lines = append(s.lines, c) // a more-indented line keeps its extra spaces
		}
		if s.indent == "" || s.text() != strings.TrimRight(n.Value, "\n") {
			return s.whole(n.Value)
		}
		return s
	}
	rows := strings.Split(raw, "\n")
	if len(rows) == 1 {
		s.lines = []string{n.Value}
		return s
	}
	if n.Style != 0 {
		return s.whole(n.Value) // quoted over several lines: escapes and folding make lines unreliable
	}
	s.indent = rows[1][:len(rows[1])-len(strings.TrimLeft(rows[1], " "))]
	for i, r := range rows {
		c := strings.TrimSpace(r)
		if c == "" || strings.HasPrefix(c, "#") {
			return s.whole(n.Value)
		}
		if i > 0 && !strings.HasPrefix(r, s.indent) {
			return s.whole(n.Value)
		}
		s.lines = append(s.lines, c)
	}
	return s
}

// whole is the fallback for a layout the lines cannot hold: the value as one
// line, double-quoted when it spans lines (the only style that keeps every
// character of it on one line).
func (s scalar) whole(v string) scalar {
	v = strings.TrimRight(v, "\n")
	s.lines = []string{v}
	if s.header != "" && s.literal {
		s.lines = strings.Split(v, "\n")
		s.indent = "  "
	} else if s.header != "" || strings.Contains(v, "\n") {
		s.style, s.header, s.indent = yaml.DoubleQuotedStyle, "", ""
	}
	return s
}

// text is the value as Falco reads it, without a block's final newline.
// In a folded block a line break reads as a space, except next to a
// more-indented line, where it stays.
func (s scalar) text() string {
	if s.literal {
		return strings.Join(s.lines, "\n")
	}
	var b strings.Builder
	for i, l := range s.lines {
		if i > 0 {
			if s.header != "" && (indented(l) || indented(s.lines[i-1])) {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

func indented(l string) bool { return strings.HasPrefix(l, " ") }

// render writes the lines back in the value's style. A plain value that
// cannot stay plain (it would read back as something else) is double-quoted.
func (s scalar) render() string {
	switch {
	case s.style&(yaml.FoldedStyle|yaml.LiteralStyle) != 0:
		return s.header + "\n" + s.indent + strings.Join(s.lines, "\n"+s.indent)
	case s.style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(s.text())
	case s.style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(s.text(), "'", "''") + "'"
	}
	if !plainSafe(s.text()) {
		return doubleQuote(s.text())
	}
	if len(s.lines) > 1 {
		return strings.Join(s.lines, "\n"+s.indent)
	}
	return s.text()
}

// plainSafe reports whether v, written plain after a key, reads back as the
// same string.
func plainSafe(v string) bool {
	if v == "" || strings.ContainsAny(v, "\n\t") || strings.TrimSpace(v) != v {
		return false
	}
	var got map[string]any
	if err := yaml.Unmarshal([]byte("k: "+v), &got); err != nil {
		return false
	}
	s, ok := got["k"].(string)
	return ok && s == v
}

// doubleQuote writes v as a one-line YAML double-quoted scalar. (The yaml
// encoder would fold a long value over several lines.)
func doubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
