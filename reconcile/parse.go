package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parsed is a whole rules file read as Falco reads it: every YAML document,
// every entry of each document's list, whatever its layout.
type parsed struct {
	items []item
	// simple says the quick cut at column-0 `- ` lines yields exactly these
	// items and each item's text parses alone as it does in the file (one
	// document, a block list at column 0, each entry's kind in its first key,
	// no alias anywhere): later passes may take the fast path on these bytes.
	simple bool
	// aliased holds the nodes some alias refers to: their values cannot be
	// edited without changing the aliases too.
	aliased map[*yaml.Node]bool
}

// parseFile reads every document of a rules file with positions. A file that
// is not valid YAML anywhere is refused, with the line of the problem.
func parseFile(data []byte) (*parsed, error) {
	readable, swapped, err := asFalcoReads(data)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(readable))
	var docs []*yaml.Node
	for {
		var d yaml.Node
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(err)
		}
		docs = append(docs, &d)
	}
	if swapped != nil {
		unmask(docs, swapped)
	}
	starts := lineStarts(data)
	pf := &parsed{aliased: map[*yaml.Node]bool{}}
	for di, d := range docs {
		if len(d.Content) == 0 {
			continue
		}
		root := d.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // Falco skips an empty document
		}
		if root.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("line %d: a Falco rules file must be a YAML list of rules, macros and lists", root.Line)
		}
		docEnd := len(data)
		if di+1 < len(docs) {
			docEnd = starts[docs[di+1].Line-1]
		}
		first := len(pf.items)
		for _, e := range root.Content {
			it, err := entryItem(data, starts, e, root.Style&yaml.FlowStyle != 0)
			if err != nil {
				return nil, err
			}
			pf.items = append(pf.items, it)
		}
		// Each item runs to the next one; the last to its document's end
		// marker (`---` or `...` at column 0), or the next document.
		for i := first; i < len(pf.items); i++ {
			end := docEnd
			if i+1 < len(pf.items) {
				end = pf.items[i+1].start
			} else {
				end = docMarker(data, starts, pf.items[i].line, docEnd)
			}
			if end <= pf.items[i].start {
				pf.items[i].uncut = true
				end = pf.items[i].start
			}
			pf.items[i].end = end
		}
	}
	for _, d := range docs {
		walk(d, func(n *yaml.Node) {
			if n.Kind == yaml.AliasNode && n.Alias != nil {
				pf.aliased[n.Alias] = true
			}
		})
	}
	// The quick cut parses each item alone, without the swap.
	pf.simple = len(pf.aliased) == 0 && swapped == nil && sameAsCut(data, pf.items)
	return pf, nil
}

// entryItem is one entry of a document's list, as Falco classifies it.
func entryItem(data []byte, starts []int, e *yaml.Node, flowList bool) (item, error) {
	n := resolve(e)
	it := item{node: n, line: e.Line, start: nodeOffset(data, starts, e)}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		// an empty entry: Falco skips it
	case n.Kind != yaml.MappingNode:
		return it, fmt.Errorf("line %d: a list entry that is not a mapping (Falco wants `- rule: ...`, `- macro: ...` or `- list: ...`)", e.Line)
	default:
		// Falco's order of precedence, whatever the order of the keys.
		for _, k := range []string{"required_engine_version", "required_plugin_versions", "list", "macro", "rule"} {
			v := mapValue(n, k)
			if v == nil {
				continue
			}
			if k == "list" || k == "macro" || k == "rule" {
				v = resolve(v)
				if v.Kind != yaml.ScalarNode {
					return it, fmt.Errorf("line %d: the %s name is not a string", v.Line, k)
				}
				it.kind, it.name = k, v.Value
			}
			break
		}
	}
	if flowList || e.Kind == yaml.AliasNode {
		it.uncut = true
		return it, nil
	}
	// The entry's text starts at its `- `: on the node's line, or on an
	// earlier line holding the dash alone.
	l := e.Line - 1
	if before := strings.TrimSpace(string(data[starts[l]:it.start])); strings.HasPrefix(before, "-") {
		it.start = starts[l]
		return it, nil
	}
	for l--; l >= 0; l-- {
		t := strings.TrimSpace(lineAt(data, starts, l))
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if t == "-" || strings.HasPrefix(t, "- #") {
			it.start, it.line = starts[l], l+1
			return it, nil
		}
		break
	}
	it.uncut = true
	return it, nil
}

// docMarker is where the document holding the item at line ends: the first
// column-0 `---` or `...` line after it, else limit.
func docMarker(data []byte, starts []int, line, limit int) int {
	for l := line; l < len(starts) && starts[l] < limit; l++ {
		t := lineAt(data, starts, l)
		if t == "..." || t == "---" || strings.HasPrefix(t, "--- ") || strings.HasPrefix(t, "... ") {
			return starts[l]
		}
	}
	return limit
}

// sameAsCut reports whether the quick cut finds the same items at the same
// offsets, each as a block mapping: then each cut item parses alone as it
// does in the file.
func sameAsCut(data []byte, items []item) bool {
	cut, err := cutItems(data)
	if err != nil || len(cut) != len(items) {
		return false
	}
	for i, c := range cut {
		it := items[i]
		if it.uncut || c.start != it.start || c.end != it.end || c.kind != it.kind || c.name != it.name {
			return false
		}
		if it.node.Kind == yaml.MappingNode && it.node.Style&yaml.FlowStyle != 0 {
			return false
		}
	}
	return true
}

// walk calls f on n and every node under it, not following aliases.
func walk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	for _, c := range n.Content {
		walk(c, f)
	}
}

// resolve follows an alias to the node it names. One step is all: the
// parser never puts an anchor on an alias, so an alias never names one.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// yamlTrue is yaml-cpp's reading of a scalar as a true bool, which is how
// Falco reads `append:` and `enabled:`: y, yes, true or on, in lower case,
// upper case or capitalised, quoted or not.
func yamlTrue(s string) bool {
	switch strings.ToLower(s) {
	case "y", "yes", "true", "on":
	default:
		return false
	}
	return s == strings.ToLower(s) || s == strings.ToUpper(s) || s[1:] == strings.ToLower(s[1:])
}

// defines reports whether a rule entry is a full definition, which replaces
// any earlier one. Falco takes an entry with a true `append:` (or, from
// 0.37, `override:`) as an amendment, and one without all of condition,
// output, desc and priority as switching an earlier rule on or off.
func defines(m *yaml.Node) bool {
	if v := mapValue(m, "append"); v != nil {
		if v = resolve(v); v.Kind == yaml.ScalarNode && yamlTrue(v.Value) {
			return false
		}
	}
	if mapValue(m, "override") != nil {
		return false
	}
	for _, k := range []string{"condition", "output", "desc", "priority"} {
		v := mapValue(m, k)
		if v == nil || resolve(v).Kind != yaml.ScalarNode {
			return false
		}
	}
	return true
}

// definesList tells whether a `- list:` entry defines the list (Falco
// replaces any earlier definition with it) rather than amending one with
// `append: true` or `override:`.
func definesList(m *yaml.Node) bool {
	if v := mapValue(m, "append"); v != nil {
		if v = resolve(v); v.Kind == yaml.ScalarNode && yamlTrue(v.Value) {
			return false
		}
	}
	return mapValue(m, "override") == nil && mapValue(m, "items") != nil
}
