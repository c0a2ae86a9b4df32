package reconcile

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// edit replaces text[start:end] with repl.
type edit struct {
	start, end int
	repl       string
}

// splice applies non-overlapping edits and returns the new text with the
// spans the replacements occupy in it.
func splice(text string, edits []edit) (string, [][2]int) {
	edits = slices.Clone(edits)
	// Stable: an insertion listed before a deletion at the same place goes first.
	slices.SortStableFunc(edits, func(a, b edit) int { return a.start - b.start })
	var b strings.Builder
	spans := make([][2]int, 0, len(edits))
	last := 0
	for _, e := range edits {
		b.WriteString(text[last:e.start])
		spans = append(spans, [2]int{b.Len(), b.Len() + len(e.repl)})
		b.WriteString(e.repl)
		last = e.end
	}
	b.WriteString(text[last:])
	return b.String(), spans
}

// outside is text with the spans cut out: what must not change when only
// the values in the spans do.
func outside(text string, spans [][2]int) string {
	var b strings.Builder
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s[0]])
		last = s[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

// checkItem is the guard before anything is written: the new item must be
// valid YAML, the edited fields must read as desired, every other key must
// read as in the vendor's item, and every byte outside the edited values
// must be the vendor's byte.
//
// It returns both items as Falco reads them.
func checkItem(vendor string, vspans [][2]int, next string, nspans [][2]int, want map[string]string) (map[string]any, map[string]any, error) {
	if outside(vendor, vspans) != outside(next, nspans) {
		return nil, nil, fmt.Errorf("the edit would change bytes outside the managed values")
	}
	var before, after []map[string]any
	if err := unmarshal([]byte(vendor), &before); err != nil {
		return nil, nil, fmt.Errorf("the rule does not parse before the edit: %w", yamlError(err))
	}
	if err := unmarshal([]byte(next), &after); err != nil {
		return nil, nil, fmt.Errorf("the edited rule is not valid YAML: %w", yamlError(err))
	}
	if len(before) != 1 || len(after) != 1 {
		return nil, nil, fmt.Errorf("the edit changed the number of list entries")
	}
	for k, v := range want {
		got, ok := after[0][k]
		if !ok && v == "" {
			continue
		}
		if !ok || strings.TrimSpace(fmt.Sprint(got)) != strings.TrimSpace(v) {
			return nil, nil, fmt.Errorf("after the edit %s reads %q, not %q", k, fmt.Sprint(got), v)
		}
		if _, isBool := got.(bool); k == "enabled" && !isBool {
			return nil, nil, fmt.Errorf("after the edit enabled reads %#v, not a bool", got)
		}
	}
	for k, v := range before[0] {
		if _, edited := want[k]; edited {
			continue
		}
		if !reflect.DeepEqual(after[0][k], v) {
			return nil, nil, fmt.Errorf("the edit would change %s", k)
		}
	}
	for k := range after[0] {
		if _, edited := want[k]; !edited {
			if _, ok := before[0][k]; !ok {
				return nil, nil, fmt.Errorf("the edit would add %s", k)
			}
		}
	}
	return before[0], after[0], nil
}
