package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// listDef is the definition of a list Falco uses (the last one, across the
// files in load order) and what later entries do to it, as Falco folds
// them in: `append: true` and `override: {items: append}` add items after
// it, `override: {items: replace}` replaces them.
type listDef struct {
	file    string
	item    int
	items   []string     // the definition's items
	appends []listAppend // later entries that add items, in load order
	// replaced names a later entry that replaces the items: an edit of
	// the definition would not count.
	replaced string
}

type listAppend struct {
	where string // file:line
	items []string
}

// effective is the list as Falco uses it: the definition's items, then the
// appended ones.
func (ld listDef) effective() []string {
	out := slices.Clone(ld.items)
	for _, a := range ld.appends {
		out = append(out, a.items...)
	}
	return out
}

// appendedAt tells which later entry adds item, "" when none does.
func (ld listDef) appendedAt(item string) string {
	for _, a := range ld.appends {
		if slices.Contains(a.items, item) {
			return a.where
		}
	}
	return ""
}

// findLists finds, for every list the policy changes, the definition Falco
// uses and the entries amending it; an unknown name gets a suggestion.
func findLists(lists []policy.List, files map[string]*rulesFile, order []string) (map[string]listDef, error) {
	if len(lists) == 0 {
		return nil, nil
	}
	want := map[string]bool{}
	for _, l := range lists {
		want[l.Name] = true
	}
	found := map[string]listDef{}
	var names []string
	for _, p := range order {
		rf := files[p]
		for i, it := range rf.items {
			if it.kind != "list" {
				continue
			}
			if !want[it.name] {
				names = append(names, it.name)
				continue
			}
			m, err := rf.entry(i)
			if err != nil {
				return nil, err
			}
			items, err := seqItems(mapValue(m, "items"))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: list %q: %w", p, it.line, it.name, err)
			}
			where := fmt.Sprintf("%s:%d", p, it.line)
			if definesList(m) {
				found[it.name] = listDef{file: p, item: i, items: items}
				continue
			}
			ld, ok := found[it.name]
			if !ok {
				continue // Falco refuses an amendment of an undefined list
			}
			if o := resolve(mapValue(m, "override")); o != nil {
				if v := mapValue(o, "items"); v != nil && v.Value == "replace" {
					ld.replaced = where
				}
			}
			ld.appends = append(ld.appends, listAppend{where: where, items: items})
			found[it.name] = ld
		}
	}
	var errs []string
	for _, l := range lists {
		if _, ok := found[l.Name]; ok {
			continue
		}
		hint := ""
		if s := closest(l.Name, names); s != "" {
			hint = fmt.Sprintf(" Did you mean %q?", s)
		}
		errs = append(errs, fmt.Sprintf("%s: list %q is not defined in any rules file Falco loads; searched %s.%s Check the list's name (it must match `- list:` exactly)",
			l.Pos, l.Name, strings.Join(order, ", "), hint))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return found, nil
}

// closest is the candidate nearest s when it is near enough to be a typo.
func closest(s string, candidates []string) string {
	best, bestDist := "", len(s)/3+2
	for _, c := range candidates {
		if d := levenshtein.Distance(s, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// seqItems reads a list's items; a missing `items` is an empty list.
func seqItems(n *yaml.Node) ([]string, error) {
	n = resolve(n)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("items is not a list (YAML %s)", kindName(n.Kind))
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		c = resolve(c)
		if c.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: an item that is not a plain value (YAML %s)", c.Line, kindName(c.Kind))
		}
		out = append(out, c.Value)
	}
	return out, nil
}

// listResult is a list's new items computed from the vendor's.
type listResult struct {
	items []string // the new items, in order
}

// desiredItems computes the new items of a list from base, the items the
// edit replaces (the definition's, in place; the whole list Falco uses, for
// a drop-in). Kept items stay in their order, new ones come after them.
// appended are what later entries add, which an in-place edit cannot take
// out (nil for a drop-in, which comes after them all).
func desiredItems(l policy.List, base []string, ld listDef, inPlace bool) (listResult, error) {
	var res listResult
	keep := func(v string) bool { return !slices.Contains(l.Remove, v) }
	if l.Replace {
		keep = func(v string) bool { return slices.Contains(l.Items, v) }
	}
	for _, v := range base {
		if keep(v) {
			res.items = append(res.items, v)
		}
	}
	adds := l.Add
	if l.Replace {
		adds = l.Items
	}
	for _, a := range adds {
		if !slices.Contains(res.items, a) && !(inPlace && ld.appendedAt(a) != "") {
			res.items = append(res.items, a)
		}
	}
	if !inPlace {
		return res, nil
	}
	if ld.replaced != "" {
		return res, fmt.Errorf("%s replaces its items after the definition rulekeeper edits, so Falco would not use the edit; remove that entry, or use the override strategy", ld.replaced)
	}
	gone := l.Remove
	if l.Replace {
		for _, v := range ld.effective() {
			if !slices.Contains(l.Items, v) {
				gone = append(gone, v)
			}
		}
	}
	for _, r := range gone {
		if at := ld.appendedAt(r); at != "" {
			return res, fmt.Errorf("the item %q is added by the entry at %s, after the definition rulekeeper edits: remove it there, or use the override strategy", r, at)
		}
	}
	return res, nil
}

// missingNotes warns of items to remove that the list does not hold: the
// list is as the policy wants it, but the name may be a typo, or the
// vendor dropped the item.
func missingNotes(l policy.List, effective []string) []string {
	var out []string
	for _, r := range l.Remove {
		if slices.Contains(effective, r) {
			continue
		}
		hint := ""
		if s := closest(r, effective); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		out = append(out, fmt.Sprintf("%s: list %q has no item %q to remove%s: nothing to do for it", l.Pos, l.Name, r, hint))
	}
	return out
}

// desiredList edits the items of the vendor's list definition, keeping the
// file's layout: a flow list (`[a, b]`, on one line or several) loses the
// removed items with their separators and gains the new ones after its
// last; a block list loses and gains whole `- item` lines.
func desiredList(vendor string, m *yaml.Node, l policy.List, ld listDef) (next string, vspans, nspans [][2]int, want map[string]string, values []Value, err error) {
	if m == nil {
		if m, err = parseItem([]byte(vendor)); err != nil {
			return "", nil, nil, nil, nil, err
		}
	}
	text := []byte(vendor)
	reg, err := locate(text, m, "items")
	if err != nil {
		return "", nil, nil, nil, nil, err
	}
	if reg.absent || reg.node == nil {
		return "", nil, nil, nil, nil, fmt.Errorf("the list has no items to change; write `items: []` in the file")
	}
	seq := reg.node
	base, err := seqItems(seq)
	if err != nil {
		return "", nil, nil, nil, nil, err
	}
	res, err := desiredItems(l, base, ld, true)
	if err != nil {
		return "", nil, nil, nil, nil, err
	}
	edits, err := listEdits(text, seq, base, res.items)
	if err != nil {
		return "", nil, nil, nil, nil, err
	}
	next, _ = splice(vendor, edits)
	end := reg.end + len(next) - len(vendor)
	vspans, nspans = [][2]int{{reg.start, reg.end}}, [][2]int{{reg.start, end}}
	want = map[string]string{"items": itemsText(res.items)}
	values = []Value{{Kind: "list", Rule: l.Name, Field: "items", Original: vendor[reg.start:reg.end], Written: next[reg.start:end]}}
	return next, vspans, nspans, want, values, nil
}

// itemsText is how a check compares items: as fmt prints the decoded list.
func itemsText(items []string) string {
	a := make([]any, len(items))
	for i, s := range items {
		a[i] = s
	}
	return fmt.Sprint(a)
}

// listEdits turns the change from base to items (base's kept items in
// order, then new ones) into edits of the sequence's text.
func listEdits(text []byte, seq *yaml.Node, base, items []string) ([]edit, error) {
	starts := lineStarts(text)
	kept := 0
	keep := make([]bool, len(base))
	for i, v := range base {
		if kept < len(items) && items[kept] == v && slices.Contains(items, v) {
			keep[i] = true
			kept++
		}
	}
	adds := items[kept:]
	if seq.Style&yaml.FlowStyle != 0 {
		return flowListEdits(text, starts, seq, keep, adds)
	}
	return blockListEdits(text, starts, seq, keep, adds)
}

func flowListEdits(text []byte, starts []int, seq *yaml.Node, keep []bool, adds []string) ([]edit, error) {
	n := len(seq.Content)
	st, en := make([]int, n), make([]int, n)
	for i, c := range seq.Content {
		st[i] = nodeOffset(text, starts, c)
		e, err := flowScalarEnd(text, st[i], c)
		if err != nil {
			return nil, err
		}
		en[i] = e
	}
	var out []string
	for _, a := range adds {
		out = append(out, flowItem(a))
	}
	first := slices.Index(keep, true)
	if first < 0 { // nothing kept: the new items take the old ones' place
		if n == 0 {
			open := nodeOffset(text, starts, seq)
			return []edit{{open + 1, open + 1, strings.Join(out, ", ")}}, nil
		}
		return []edit{{st[0], en[n-1], strings.Join(out, ", ")}}, nil
	}
	var edits []edit
	if first > 0 { // the removed head goes with the separators after it
		edits = append(edits, edit{st[0], st[first], ""})
	}
	last := first
	for i := first + 1; i < n; i++ {
		if keep[i] {
			last = i
			continue
		}
		edits = append(edits, edit{en[i-1], en[i], ""}) // `, item` with what precedes it
	}
	if len(out) > 0 {
		// Before any deletion that starts there (splice keeps the order).
		edits = slices.Insert(edits, 0, edit{en[last], en[last], ", " + strings.Join(out, ", ")})
	}
	return edits, nil
}

func blockListEdits(text []byte, starts []int, seq *yaml.Node, keep []bool, adds []string) ([]edit, error) {
	n := len(seq.Content)
	if n == 0 {
		return nil, fmt.Errorf("line %d: an empty block list", seq.Line)
	}
	lineEnd := func(l int) int { return starts[l] + len(lineAt(text, starts, l)) }
	for i, c := range seq.Content {
		// One item per line: the line reads `- item` and nothing more.
		l := c.Line - 1
		var got []string
		if i > 0 && seq.Content[i-1].Line == c.Line || unmarshal([]byte(strings.TrimSpace(lineAt(text, starts, l))), &got) != nil ||
			len(got) != 1 || got[0] != c.Value || (i+1 < n && !blankBetween(text, starts, l+1, seq.Content[i+1].Line-1)) {
			return nil, fmt.Errorf("line %d: rulekeeper edits block lists of one `- item` per line; write this list so", c.Line)
		}
	}
	first := lineAt(text, starts, seq.Content[0].Line-1)
	indent := first[:len(first)-len(strings.TrimLeft(first, " "))]
	var edits []edit
	last := -1
	for i, c := range seq.Content {
		if keep[i] {
			last = i
			continue
		}
		l := c.Line - 1
		edits = append(edits, edit{starts[l] - 1, lineEnd(l), ""})
	}
	var b strings.Builder
	for _, a := range adds {
		b.WriteString("\n" + indent + "- " + blockItem(a))
	}
	if b.Len() > 0 {
		at := lineEnd(seq.Content[n-1].Line - 1)
		if last >= 0 {
			at = lineEnd(seq.Content[last].Line - 1)
		}
		// First, so that it stays before a deletion of the next line, which
		// starts where it goes (splice keeps the order).
		edits = slices.Insert(edits, 0, edit{at, at, b.String()})
		slices.SortStableFunc(edits, func(a, b edit) int { return a.start - b.start })
	}
	return edits, nil
}

// blankBetween tells whether lines [from, to) hold only blanks and comments.
func blankBetween(text []byte, starts []int, from, to int) bool {
	for l := from; l < to && l < len(starts); l++ {
		t := strings.TrimSpace(lineAt(text, starts, l))
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

// flowItem writes an item plain where it reads back as itself inside
// `[...]`, else double-quoted.
func flowItem(v string) string {
	var got []any
	if !yaml11Word(v) && unmarshal([]byte("["+v+"]"), &got) == nil && len(got) == 1 && got[0] == v {
		return v
	}
	return doubleQuote(v)
}

func blockItem(v string) string {
	var got []any
	if !yaml11Word(v) && unmarshal([]byte("- "+v), &got) == nil && len(got) == 1 && got[0] == v {
		return v
	}
	return doubleQuote(v)
}

// yaml11Word tells whether a plain v would read as a boolean or null to a
// YAML 1.1 reader (yaml-cpp, in Falco, reads `yes` as true where asked for
// a bool): the upstream files quote such items ("yes", "true"), and so does
// rulekeeper.
func yaml11Word(v string) bool {
	switch strings.ToLower(v) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~":
		return true
	}
	return false
}

// listRegion is the region of a list's items: from just after `items:` to
// the end of the sequence, so that an edit that removes the first line of
// a block list stays inside it.
func listRegion(text []byte, starts []int, m *yaml.Node, idx, keyCol int, flow bool) (region, error) {
	v := m.Content[idx+1]
	k := nodeOffset(text, starts, m.Content[idx])
	colon := k + len(m.Content[idx].Value)
	for colon < len(text) && text[colon] != ':' {
		colon++
	}
	start := colon + 1
	var end int
	if v.Style&yaml.FlowStyle != 0 {
		c, err := flowClose(text, nodeOffset(text, starts, v))
		if err != nil {
			return region{}, fmt.Errorf("line %d: %w", v.Line, err)
		}
		end = c + 1
	} else {
		if flow {
			return region{}, fmt.Errorf("line %d: a block list inside a flow mapping", v.Line)
		}
		end = valueEnd(text, starts, idx, m, keyCol)
	}
	return region{start: start, end: end, keyCol: keyCol, node: v, flow: flow}, nil
}
