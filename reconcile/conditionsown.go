package reconcile

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// The agent-owned file's entries for conditions, tags and descriptions.

// conditionMode is the `override:` word for a condition change.
func conditionMode(c policy.Condition) string {
	if c.Replace != nil {
		return "replace"
	}
	return "append"
}

// ownMacros are the macro blocks that change something: a condition.
func ownMacros(macros []policy.Macro) []policy.Macro {
	var out []policy.Macro
	for _, m := range macros {
		if m.Condition != nil {
			out = append(out, m)
		}
	}
	return out
}

// macroEntry changes a macro's condition from a later file. From Falco
// 0.37 an `override:` entry appends or replaces; before, `append: true`
// appends, and a later definition replaces the earlier one.
func macroEntry(m policy.Macro, modern bool) string {
	c := *m.Condition
	head := "- macro: " + oneLine(m.Name) + "\n  condition: " + oneLine(conditionText(c)) + "\n"
	switch {
	case modern:
		return head + "  override:\n    condition: " + conditionMode(c) + "\n"
	case c.Replace == nil:
		return head + "  append: true\n"
	}
	return head
}

// conditionText is the text a condition entry carries.
func conditionText(c policy.Condition) string {
	if c.Replace != nil {
		return *c.Replace
	}
	return c.Append
}

// appendsOnly tells whether a rule's only changes are text appended to its
// condition and exceptions: before Falco 0.37 an `append: true` entry
// makes them, and keeps the appends other files make, which a
// redefinition would drop.
func appendsOnly(r policy.Rule) bool {
	return (r.Condition != nil || len(r.Exceptions) > 0) && (r.Condition == nil || r.Condition.Replace == nil) &&
		r.Output == nil && r.Priority == nil && r.Enabled == nil && r.Desc == nil && r.Tags == nil
}

// overrideTags are the tags an `override:` entry gives a rule and how:
// the new ones appended where the policy only adds, else the whole set
// computed from the vendor's definition.
func overrideTags(vendor string, m *yaml.Node, r policy.Rule) ([]string, string, error) {
	var base []string
	if n := mapValue(m, "tags"); n != nil {
		var err error
		if base, err = seqItems(n); err != nil {
			return nil, "", fmt.Errorf("tags: %w", err)
		}
	}
	res, _ := desiredItems(tagsList(r.Name, *r.Tags), base, listDef{}, false)
	if !r.Tags.Replace && len(r.Tags.Remove) == 0 && len(res.items) > len(base) {
		return res.items[len(base):], "append", nil
	}
	return res.items, "replace", nil
}
