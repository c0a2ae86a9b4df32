package reconcile

import (
	"fmt"
	"strings"
	"unicode/utf8"

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
	eol     string // the file's line break: "\n", or "\r\n" in a CRLF file
	keyCol  int    // the column of the value's key: block lines go further right
	// flow is set for a value inside a flow mapping, where only a quoted
	// scalar is safe.
	flow bool
}

// readValue is a located value as lines.
func readValue(raw string, reg region) scalar {
	if reg.flow {
		return scalar{style: reg.node.Style, lines: []string{reg.node.Value}, eol: "\n", keyCol: reg.keyCol, flow: true}
	}
	eol := "\n"
	if strings.Contains(raw, "\r\n") {
		eol, raw = "\r\n", strings.ReplaceAll(raw, "\r\n", "\n")
	}
	s := readScalar(raw, reg.node)
	s.eol, s.keyCol = eol, reg.keyCol
	if s.header != "" && len(s.indent) <= reg.keyCol {
		s.indent = strings.Repeat(" ", reg.keyCol+2)
	}
	return s
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

// render writes the lines back in the value's style. A value the style
// cannot hold (a line break or leading spaces in a block, a plain value that
// would read back as something else, anything inside a flow mapping) is
// written double-quoted on one line, the style that holds any text.
func (s scalar) render() string {
	if s.flow {
		return doubleQuote(s.text())
	}
	r := s.styled()
	if !s.holds(r) {
		return doubleQuote(s.text())
	}
	return r
}

// holds reports whether r, written after the value's key, reads back as the
// value's text.
func (s scalar) holds(r string) bool {
	var got map[string]any
	if err := unmarshal([]byte(strings.Repeat(" ", s.keyCol)+"k: "+r), &got); err != nil {
		return false
	}
	v, ok := got["k"].(string)
	if s.header != "" {
		return ok && strings.TrimRight(v, "\n") == strings.TrimRight(s.text(), "\n")
	}
	return ok && v == s.text()
}

func (s scalar) styled() string {
	eol := s.eol
	if eol == "" {
		eol = "\n"
	}
	switch {
	case s.style&(yaml.FoldedStyle|yaml.LiteralStyle) != 0:
		return s.header + eol + s.indent + strings.Join(s.lines, eol+s.indent)
	case s.style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(s.text())
	case s.style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(s.text(), "'", "''") + "'"
	}
	if !plainSafe(s.text()) {
		return doubleQuote(s.text())
	}
	if len(s.lines) > 1 {
		return strings.Join(s.lines, eol+s.indent)
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
	if err := unmarshal([]byte("k: "+v), &got); err != nil {
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
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff || r == utf8.RuneError:
			// line and paragraph separators are line breaks to YAML 1.1
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
