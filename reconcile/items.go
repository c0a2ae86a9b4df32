package reconcile

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// item is one top-level entry of a Falco rules file (`- rule: ...`,
// `- macro: ...`, `- list: ...`), as a byte range of the file. Cutting a file
// at its top-level `- ` lines and parsing only the items a pass touches is
// what keeps a pass on a 136 KB file well under a millisecond; a full parse
// costs about 10 ms.
type item struct {
	start, end int    // byte offsets in the file; end is exclusive
	line       int    // 1-based line of start
	kind       string // "rule", "macro", "list", or "" for anything else
	name       string
	// node is the entry as the full parse read it (file positions); nil on
	// the fast path, where an item is parsed alone when it is needed.
	node *yaml.Node
	// uncut is set for an entry whose text cannot stand alone (in a flow
	// list, or an alias): it can be read but not edited.
	uncut bool
}

// firstKey reads the first key of an item, `- rule: NAME`, without a
// regexp: this runs on every top-level line of every file in every pass.
func firstKey(line []byte) (kind, name string, ok bool) {
	rest := bytes.TrimLeft(line[1:], " ")
	for _, k := range []string{"rule", "macro", "list"} {
		if v, found := bytes.CutPrefix(rest, []byte(k+":")); found {
			return k, string(bytes.Trim(v, " ")), true
		}
	}
	return "", "", false
}

// cutItems splits a rules file into its top-level sequence items. It returns
// an error when the file is not a block sequence at column 0 (the layout of
// every upstream Falco rules file). The cut alone proves nothing (a key
// before `rule:`, an alias, a quoted value running over lines all escape
// it): it stands for a full parse only for bytes a full parse has vouched
// for (see readRules).
func cutItems(data []byte) ([]item, error) {
	items := make([]item, 0, bytes.Count(data, []byte("\n-"))+1)
	lineNo := 0
	sawContent := false
	for off := 0; off < len(data); {
		lineNo++
		nl := bytes.IndexByte(data[off:], '\n')
		end := len(data)
		if nl >= 0 {
			end = off + nl + 1
		}
		line := data[off:end]
		for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
			line = line[:len(line)-1]
		}
		switch {
		case len(line) > 0 && line[0] == '-' && (len(line) == 1 || line[1] == ' '):
			if len(items) > 0 {
				items[len(items)-1].end = off
			}
			it := item{start: off, line: lineNo}
			it.kind, it.name, _ = firstKey(line)
			items = append(items, it)
			sawContent = true
		case len(line) == 0 || line[0] == ' ' || line[0] == '#':
			// continuation, blank or comment
		case bytes.Equal(line, []byte("---")) && !sawContent:
		default:
			return nil, fmt.Errorf("line %d: %q is not part of a top-level list of rules", lineNo, truncate(string(line), 40))
		}
		off = end
	}
	if len(items) > 0 {
		items[len(items)-1].end = len(data)
	}
	for i := range items {
		if err := items[i].decodeName(data); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// decodeName turns the raw text after `rule:` into the name Falco sees. Most
// names are plain; quoted ones and names with comments go through YAML.
func (it *item) decodeName(data []byte) error {
	raw := it.name
	if it.kind == "" || !needsYAML(raw) {
		return nil
	}
	var v map[string]any
	if err := unmarshal([]byte(it.kind+": "+raw), &v); err != nil {
		// A name spread over several lines, or something odd: ask the item.
		root, perr := parseItem(data[it.start:it.end])
		if perr != nil {
			return fmt.Errorf("line %d: %w", it.line, perr)
		}
		if n := mapValue(root, it.kind); n != nil {
			it.name = n.Value
			return nil
		}
		return fmt.Errorf("line %d: cannot read the %s name: %w", it.line, it.kind, err)
	}
	s, ok := v[it.kind].(string)
	if !ok {
		return fmt.Errorf("line %d: the %s name is not a string", it.line, it.kind)
	}
	it.name = s
	return nil
}

func needsYAML(s string) bool {
	return s == "" || strings.ContainsAny(s[:1], `"'&*!|>%@`+"`") || strings.Contains(s, " #")
}

// lineStarts returns the byte offset of every line's first byte.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
