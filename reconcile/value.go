package reconcile

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// parseItem parses one cut item and returns its mapping node. Lines and
// columns in the result are relative to the item's first line.
func parseItem(text []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := unmarshal(text, &doc); err != nil {
		return nil, yamlError(err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode || len(doc.Content[0].Content) != 1 {
		return nil, errors.New("not a single list entry")
	}
	m := doc.Content[0].Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, errors.New("a list entry that is not a mapping")
	}
	return m, nil
}

// mapValue returns the value node of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// yamlError strips the library's prefix; callers add the file name. The
// library counts lines from 0 for parser errors (from 1 for scanner errors)
// and leaves the line out when it is 0: the message gets a 1-based line.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "unmarshal errors") {
		return errors.New(msg)
	}
	line := 0
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	if line == 0 || isParserProblem(msg) {
		line++
	}
	return fmt.Errorf("line %d: %s", line, msg)
}

// isParserProblem recognises the problems go.yaml.in/yaml/v3's parser (not
// its scanner) reports.
func isParserProblem(msg string) bool {
	for _, p := range []string{"did not find expected key", "did not find expected node content",
		"did not find expected ',' or", "did not find expected '-' indicator", "did not find expected <",
		"found undefined tag handle", "found duplicate %", "found incompatible YAML document"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^line (\d+): `) })

var innerLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`line (\d+): `) })

// itemError speaks of a file's line where err, from parsing one cut item,
// counts lines from the item's first line ("line N: " anywhere in it).
func itemError(file string, it item, err error) error {
	msg, line := err.Error(), it.line
	if loc := innerLine().FindStringSubmatchIndex(msg); loc != nil {
		n, _ := strconv.Atoi(msg[loc[2]:loc[3]])
		line, msg = it.line+n-1, msg[:loc[0]]+msg[loc[1]:]
	}
	if it.kind != "" {
		return fmt.Errorf("%s:%d: %s %q: %s", file, line, it.kind, it.name, msg)
	}
	return fmt.Errorf("%s:%d: %s", file, line, msg)
}

// region is the byte range of one key's value inside an item, as it stands in
// the file: from the first byte of the value (the `>` of a folded block, the
// quote of a quoted scalar; after any anchor or tag) to the end of its last
// line, newline excluded.
type region struct {
	start, end int // offsets relative to the item
	keyCol     int // 0-based column of the key, the indentation new keys get
	node       *yaml.Node
	absent     bool // the key is not there; start==end is where it would go
	// flow is set inside a flow mapping (`{rule: X, output: ...}`), where
	// only a quoted scalar can hold any text.
	flow bool
}

// flowInsert is where a new `, key: value` goes in a rule's flow mapping
// (never empty: it has its rule key) that closes at end: after the last
// value, before a trailing comma and a comment ending the line. Taking the
// key out again removes just that (locateManaged): the vendor's bytes.
func flowInsert(text string, end int) int {
	back := func(at int) int { // over blanks, and the comment ending a line
		for at > 0 && strings.ContainsRune(" \t\r\n", rune(text[at-1])) {
			at--
			if text[at] == '\n' {
				ls := strings.LastIndexByte(text[:at], '\n') + 1
				if c := commentStart(text[ls:at]); c >= 0 {
					at = ls + c
				}
			}
		}
		return at
	}
	at := back(end)
	if at > 0 && text[at-1] == ',' {
		at = back(at - 1)
	}
	return at
}

// commentStart is where a comment begins in a line of YAML (a # at the
// line's start or after a blank, outside quotes), or -1.
func commentStart(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i
		}
	}
	return -1
}

// locate finds the value of key in an item. An absent key gets the position
// after the item's last value, where a new `key: value` line is inserted.
func locate(text []byte, m *yaml.Node, key string) (region, error) {
	starts := lineStarts(text)
	keyCol := m.Content[0].Column - 1
	flow := m.Style&yaml.FlowStyle != 0
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			if idx >= 0 { // Falco reads the first, a YAML library may read the last
				return region{}, fmt.Errorf("line %d: the key %s appears twice in the entry (also at line %d); remove one", m.Content[i].Line, key, m.Content[idx].Line)
			}
			idx = i
		}
	}
	if idx < 0 {
		if flow {
			end, err := flowClose(text, nodeOffset(text, starts, m))
			return region{start: end, end: end, keyCol: keyCol, absent: true, flow: true}, err
		}
		end := valueEnd(text, starts, len(m.Content)-2, m, keyCol)
		return region{start: end, end: end, keyCol: keyCol, absent: true}, nil
	}
	v := m.Content[idx+1]
	if v.Kind == yaml.AliasNode {
		return region{}, fmt.Errorf("line %d: the %s is the YAML alias *%s of another value: rulekeeper does not edit through an alias (the edit would change every use of the anchor); write the text out in this rule", v.Line, key, v.Value)
	}
	if v.Kind == yaml.SequenceNode && (key == "items" || key == "tags" || key == "exceptions") {
		return listRegion(text, starts, m, idx, keyCol, flow)
	}
	if v.Kind != yaml.ScalarNode {
		return region{}, fmt.Errorf("the %s is not a plain value (YAML %s)", key, kindName(v.Kind))
	}
	start := skipProps(text, nodeOffset(text, starts, v))
	if flow {
		end, err := flowScalarEnd(text, start, v)
		return region{start: start, end: end, keyCol: keyCol, node: v, flow: true}, err
	}
	end := valueEnd(text, starts, idx, m, keyCol)
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 && !strings.Contains(string(text[start:end]), "\n") {
		// A one-line scalar may carry a comment after it: keep the comment.
		end = start + scalarLen(text[start:end], v.Style)
	}
	return region{start: start, end: end, keyCol: keyCol, node: v}, nil
}

// nodeOffset is the byte offset of a node: the parser counts columns in
// characters, and a line may hold multi-byte ones before the node.
func nodeOffset(text []byte, starts []int, n *yaml.Node) int {
	off := starts[n.Line-1]
	for c := 1; c < n.Column && off < len(text); c++ {
		_, w := utf8.DecodeRune(text[off:])
		off += w
	}
	return off
}

// skipProps moves past a node's anchor (`&x`) and tag (`!!str`), which stay
// as they are when the value changes.
func skipProps(text []byte, at int) int {
	for at < len(text) && (text[at] == '&' || text[at] == '!') {
		for at < len(text) && !strings.ContainsRune(" \t\r\n", rune(text[at])) {
			at++
		}
		for at < len(text) && (text[at] == ' ' || text[at] == '\t') {
			at++
		}
	}
	return at
}

// valueEnd is the end of the value of the key at m.Content[idx]: the end of
// the last line before the next key (or the item's end) that is part of the
// value, skipping trailing blank lines and comments at or left of the key.
func valueEnd(text []byte, starts []int, idx int, m *yaml.Node, keyCol int) int {
	limit := len(starts) // line index (0-based) where the search stops
	if idx+2 < len(m.Content) {
		limit = m.Content[idx+2].Line - 1
	}
	first := m.Content[idx+1].Line - 1
	for l := limit - 1; l > first; l-- {
		line := lineAt(text, starts, l)
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || (strings.HasPrefix(trimmed, "#") && len(line)-len(trimmed) <= keyCol) {
			continue
		}
		return starts[l] + len(line)
	}
	return starts[first] + len(lineAt(text, starts, first))
}

func lineAt(text []byte, starts []int, l int) string {
	end := len(text)
	if l+1 < len(starts) {
		end = starts[l+1]
	}
	return strings.TrimRight(string(text[starts[l]:end]), "\r\n")
}

// scalarLen is the length of a one-line scalar at the start of s, without
// any trailing comment or spaces.
func scalarLen(s []byte, style yaml.Style) int {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
	case style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
	default:
		if i := strings.Index(string(s), " #"); i >= 0 {
			return len(strings.TrimRight(string(s[:i]), " "))
		}
		return len(strings.TrimRight(string(s), " "))
	}
	return len(s)
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}
