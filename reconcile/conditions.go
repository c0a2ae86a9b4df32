package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// macroDef is the definition of a macro Falco uses (the last one, across the
// files in load order) and the later entries that change its condition,
// as Falco folds them in: `append: true` and `override: {condition:
// append}` add text after it, `override: {condition: replace}` replaces it.
type macroDef struct {
	file     string
	item     int
	appended []string // where later entries append to the condition
	replaced string   // where a later entry replaces it, "" when none does
}

// definesMacro tells whether a `- macro:` entry defines the macro rather
// than amending one with `append: true` or `override:`.
func definesMacro(m *yaml.Node) bool {
	if v := mapValue(m, "append"); v != nil {
		if v = resolve(v); v.Kind == yaml.ScalarNode && yamlTrue(v.Value) {
			return false
		}
	}
	return mapValue(m, "override") == nil && mapValue(m, "condition") != nil
}

// conditionAmendment tells how an amending entry changes the condition:
// "append", "replace" or "".
func conditionAmendment(m *yaml.Node) string {
	if o := resolve(mapValue(m, "override")); o != nil && o.Kind == yaml.MappingNode {
		if v := mapValue(o, "condition"); v != nil {
			return v.Value
		}
		return ""
	}
	if mapValue(m, "condition") != nil {
		return "append" // `append: true`: the only other amendment
	}
	return ""
}

// findMacros finds, for every macro the policy changes, the definition
// Falco uses and the entries amending its condition; an unknown name gets
// a suggestion.
func findMacros(macros []policy.Macro, files map[string]*rulesFile, order []string) (map[string]macroDef, error) {
	if len(macros) == 0 {
		return nil, nil
	}
	want := map[string]bool{}
	for _, m := range macros {
		want[m.Name] = true
	}
	found := map[string]macroDef{}
	var names []string
	for _, p := range order {
		rf := files[p]
		for i, it := range rf.items {
			if it.kind != "macro" {
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
			if definesMacro(m) {
				found[it.name] = macroDef{file: p, item: i}
				continue
			}
			md, ok := found[it.name]
			if !ok {
				continue // Falco refuses an amendment of an undefined macro
			}
			where := fmt.Sprintf("%s:%d", p, it.line)
			switch conditionAmendment(m) {
			case "append":
				md.appended = append(md.appended, where)
			case "replace":
				md.replaced = where
			}
			found[it.name] = md
		}
	}
	var errs []string
	for _, m := range macros {
		if _, ok := found[m.Name]; ok {
			continue
		}
		hint := ""
		if s := closest(m.Name, names); s != "" {
			hint = fmt.Sprintf(" Did you mean %q?", s)
		}
		errs = append(errs, fmt.Sprintf("%s: macro %q is not defined in any rules file Falco loads; searched %s.%s Check the macro's name (it must match `- macro:` exactly)",
			m.Pos, m.Name, strings.Join(order, ", "), hint))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return found, nil
}

// inPlaceCounts refuses an edit of a macro's definition that Falco would not
// use as the policy says: a later entry replaces the condition, or, for a
// replace, appends to it.
func (md macroDef) inPlaceCounts(c *policy.Condition) error {
	if md.replaced != "" {
		return fmt.Errorf("%s replaces its condition after the definition rulekeeper edits, so Falco would not use the edit; remove that entry, or use the override strategy", md.replaced)
	}
	if c != nil && c.Replace != nil && len(md.appended) > 0 {
		return fmt.Errorf("%s appends to its condition after the definition rulekeeper edits, so Falco would not use the condition the policy gives; move that text into the policy's replace and remove the entry, or use the override strategy", strings.Join(md.appended, ", "))
	}
	return nil
}

// newCondition is the condition after the policy's change of the vendor's:
// replaced, or with the appended text after one space, as Falco appends.
func newCondition(vendor scalar, c policy.Condition) scalar {
	s := vendor
	s.lines = slices.Clone(vendor.lines)
	if c.Replace != nil {
		s.lines = []string{*c.Replace}
		if s.literal {
			s.lines = strings.Split(*c.Replace, "\n")
		}
		return s
	}
	s.lines = appendLine(s, c.Append)
	return s
}

// conditionValue renders a rule's or macro's new condition in the vendor's
// layout: a folded block gains a line, a one-line value grows.
func conditionValue(vendor string, c policy.Condition) func(region) (string, string, error) {
	return func(reg region) (string, string, error) {
		if reg.absent {
			return "", "", fmt.Errorf("the entry has no condition to change")
		}
		s := newCondition(readValue(vendor[reg.start:reg.end], reg), c)
		return s.render(), s.text(), nil
	}
}

// descValue renders a rule's new description in the vendor's style.
func descValue(vendor, desc string) func(region) (string, string, error) {
	return func(reg region) (string, string, error) {
		if reg.absent {
			return oneLine(desc), desc, nil
		}
		s := readValue(vendor[reg.start:reg.end], reg)
		s.lines = []string{desc}
		if s.literal {
			s.lines = strings.Split(desc, "\n")
		}
		return s.render(), s.text(), nil
	}
}

// tagsList is a tags block as the list change it is.
func tagsList(name string, t policy.Tags) policy.List {
	return policy.List{Name: name, Add: t.Add, Remove: t.Remove, Replace: t.Replace, Items: t.Items}
}

// tagsValue edits a rule's tags in the file's layout, as a list's items
// are: removed tags go with their separators, new ones come after the last
// kept. A rule without tags gains a flow list.
func tagsValue(vendor string, m *yaml.Node, name string, t policy.Tags) func(region) (string, string, error) {
	return func(reg region) (string, string, error) {
		if reg.absent {
			res, _ := desiredItems(tagsList(name, t), nil, listDef{}, false)
			return flowList(res.items), itemsText(res.items), nil
		}
		if reg.node.Kind != yaml.SequenceNode {
			return "", "", fmt.Errorf("the tags are not a list (YAML %s)", kindName(reg.node.Kind))
		}
		base, err := seqItems(reg.node)
		if err != nil {
			return "", "", fmt.Errorf("tags: %w", err)
		}
		res, _ := desiredItems(tagsList(name, t), base, listDef{}, false)
		edits, err := listEdits([]byte(vendor), reg.node, base, res.items)
		if err != nil {
			return "", "", err
		}
		for i := range edits { // the edits count from the item's start
			edits[i].start -= reg.start
			edits[i].end -= reg.start
		}
		raw, _ := splice(vendor[reg.start:reg.end], edits)
		return raw, itemsText(res.items), nil
	}
}

// tagsAbsentNoop tells whether a rule without tags keeps none: nothing is
// added, so no `tags:` key is written.
func tagsAbsentNoop(t policy.Tags) bool {
	return len(t.Add) == 0 && (!t.Replace || len(t.Items) == 0)
}

// desiredMacro applies a macro's desired condition to the vendor's item:
// the edit a rule's condition gets, recorded as the macro's.
func desiredMacro(vendor string, m *yaml.Node, mac policy.Macro, md macroDef) (string, [][2]int, [][2]int, map[string]string, []Value, error) {
	if err := md.inPlaceCounts(mac.Condition); err != nil {
		return "", nil, nil, nil, nil, err
	}
	next, vspans, nspans, want, values, err := desiredItem(vendor, m, policy.Rule{Name: mac.Name, Condition: mac.Condition})
	for i := range values {
		values[i].Kind = "macro"
	}
	return next, vspans, nspans, want, values, err
}

// macrosLoadAfter is loadsAfter for the macros the override file changes.
func macrosLoadAfter(order []string, own string, macros map[string]macroDef) error {
	at := slices.Index(order, own)
	for name, md := range macros {
		if i := slices.Index(order, md.file); i >= at {
			return fmt.Errorf("the override would not win: Falco loads %s before %s, which defines macro %q; choose an override_file that Falco loads later", own, md.file, name)
		}
	}
	return nil
}

// conditionBlock is a policy block that changes a condition: Falco's `-V`
// is the judge of the text, and its refusal names the policy's line.
type conditionBlock struct {
	pos, kind, name string
}

func conditionBlocks(d policy.Desired) []conditionBlock {
	var out []conditionBlock
	for _, m := range d.Macros {
		if m.Condition != nil {
			out = append(out, conditionBlock{m.Pos, "macro", m.Name})
		}
	}
	for _, r := range d.Rules {
		if r.Condition != nil {
			out = append(out, conditionBlock{r.Pos, "rule", r.Name})
		}
	}
	return out
}

// conditionHint names the policy blocks behind a refusal, those whose
// macro or rule Falco's message names (0.32.1 quotes the entries, later
// versions name them): Falco speaks of the rules files only.
func (p *Plan) conditionHint(msg string) string {
	var named []string
	for _, c := range p.conditions {
		if strings.Contains(msg, c.name) {
			named = append(named, fmt.Sprintf("%s (%s %q)", c.pos, c.kind, c.name))
		}
	}
	if len(named) == 0 {
		return ""
	}
	return "\nThe condition comes from the policy's condition block at " + strings.Join(named, ", ") + ": fix its text there."
}
