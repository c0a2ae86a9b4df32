package reconcile

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
)

// ownHeader starts every file rulekeeper owns; a file without it is not
// rulekeeper's to overwrite or remove.
const ownHeader = "# Managed by rulekeeper: written from the policy on every pass; edits here are undone.\n"

// planOverride writes (override strategy) or removes (any other) the
// agent-owned rules file.
func (p *Plan) planOverride(d policy.Desired, rf map[string]*rulesFile, defs map[string]def, lists map[string]listDef, macros map[string]macroDef, st, next *State, own string, entries []string) error {
	cur, err := ReadRulesFile(p.opts.Root, own)
	exists := err == nil
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("%s: %w", own, readHint(err))
	}
	owned := exists && (bytes.HasPrefix(cur, []byte(ownHeader)) || (st.Files[own] != nil && st.Files[own].Owned))
	if exists && !owned {
		if p.Strategy == policy.Override {
			return fmt.Errorf("%s exists and was not written by rulekeeper: move it away, or set override_file in the falco block to another path", own)
		}
		return nil
	}
	if p.Strategy != policy.Override || len(d.Rules)+len(d.Lists)+len(d.Macros) == 0 {
		if exists {
			p.Files = append(p.Files, &FileChange{Path: own, Action: Delete, Old: cur})
		}
		return nil
	}
	if !slices.Contains(entries, own) && !slices.Contains(entries, path.Dir(own)) {
		return fmt.Errorf("override_file %s is not among the files Falco loads (%s): set override_file to a file in a rules directory Falco loads, or add it to rules_files", own, strings.Join(entries, ", "))
	}
	vendorText := func(df def) string {
		data := rf[df.file].data
		for _, fc := range p.Files { // the vendor file as this plan leaves it
			if fc.Path == df.file && fc.Action == Update {
				data = fc.New
				if c, err := readRules(df.file, data, p.cutNew[df.file]); err == nil {
					if i, ok := c.lastDef("rule", rf[df.file].items[df.item].name); ok {
						it := c.items[i]
						return string(data[it.start:it.end])
					}
				}
			}
		}
		it := rf[df.file].items[df.item]
		return string(data[it.start:it.end])
	}
	var b strings.Builder
	b.WriteString(ownHeader)
	modern := p.FalcoVersion != "" && versionAtLeast(p.FalcoVersion, "0.37.0")
	if modern {
		b.WriteString("# Falco " + p.FalcoVersion + ": `override:` entries replace the vendor's values.\n")
	} else {
		b.WriteString("# Full redefinitions of vendor rules (Falco before 0.37 has no `override:`); a later definition replaces the earlier one.\n")
	}
	var changes []Change
	for _, l := range d.Lists {
		ld := lists[l.Name]
		ld.items = p.listItemsAfter(rf, ld)
		eff := ld.effective()
		res, _ := desiredItems(l, eff, ld, false)
		p.Notes = append(p.Notes, missingNotes(l, eff)...)
		b.WriteString("\n" + listEntry(l, eff, res.items, modern))
		changes = append(changes, Change{Kind: "list", Rule: l.Name, Field: "items", Reason: ReasonPolicy})
	}
	for _, mac := range d.Macros { // each with a condition block: MakePlan left out those without
		b.WriteString("\n" + macroEntry(mac, modern))
		changes = append(changes, Change{Kind: "macro", Rule: mac.Name, Field: "condition", Reason: ReasonPolicy})
	}
	for _, r := range d.Rules {
		df := defs[r.Name]
		vt := vendorText(df)
		var entry string
		var err error
		switch {
		case modern:
			entry, err = overrideEntry(vt, r)
		case appendsOnly(r):
			entry, err = appendEntry(vt, r)
		default:
			entry, err = redefinition(vt, r, df.file, rf[df.file].items[df.item].line)
		}
		if err != nil {
			return fmt.Errorf("%s: rule %q: %w", r.Pos, r.Name, err)
		}
		b.WriteString("\n" + entry)
		changes = append(changes, Change{Rule: r.Name, Field: strings.Join(fieldsOf(r), ","), Reason: ReasonPolicy})
	}
	out := b.String()
	if err := checkOwnFile(out, d.Lists, d.Macros, d.Rules); err != nil {
		return fmt.Errorf("%s: refusing to write: %w", own, err)
	}
	next.Files[own] = &FileState{Owned: true, SHA256: sum([]byte(out))}
	if exists && string(cur) == out {
		return nil
	}
	act := Create
	if exists {
		act = Update
	}
	p.Files = append(p.Files, &FileChange{Path: own, Action: act, Changes: changes, Old: cur, New: []byte(out)})
	p.cur[own] = cur
	return nil
}

// overrideEntry is an `override:` entry (Falco 0.37.0+) with the desired values.
func overrideEntry(vendor string, r policy.Rule) (string, error) {
	m, err := parseItem([]byte(vendor))
	if err != nil {
		return "", err
	}
	var b, over strings.Builder
	b.WriteString("- rule: " + oneLine(r.Name) + "\n")
	put := func(k, v string) {
		if k != "enabled" { // enabled is a YAML bool: quoted, it would be a string
			v = oneLine(v)
		}
		b.WriteString("  " + k + ": " + v + "\n")
		over.WriteString("    " + k + ": replace\n")
	}
	if r.Condition != nil {
		b.WriteString("  condition: " + oneLine(conditionText(*r.Condition)) + "\n")
		over.WriteString("    condition: " + conditionMode(*r.Condition) + "\n")
	}
	if r.Desc != nil {
		put("desc", *r.Desc)
	}
	if r.Tags != nil {
		tags, mode, err := overrideTags(vendor, m, r)
		if err != nil {
			return "", err
		}
		b.WriteString("  tags: " + flowList(tags) + "\n")
		over.WriteString("    tags: " + mode + "\n")
	}
	if r.Output != nil {
		reg, err := locate([]byte(vendor), m, "output")
		if err != nil || reg.absent {
			return "", fmt.Errorf("the vendor's rule has no output to change")
		}
		s, err := applyOutput(readValue(vendor[reg.start:reg.end], reg), *r.Output)
		if err != nil {
			return "", err
		}
		put("output", s.text())
	}
	if r.Priority != nil {
		put("priority", *r.Priority)
	}
	if r.Enabled != nil {
		put("enabled", fmt.Sprint(*r.Enabled))
	}
	if len(r.Exceptions) > 0 {
		ex, err := exceptionsEntry(m, r)
		if err != nil {
			return "", err
		}
		b.WriteString(ex)
		over.WriteString("    exceptions: append\n")
	}
	return b.String() + "  override:\n" + over.String(), nil
}

// oneLine writes a value plain where it reads back the same, else quoted.
func oneLine(v string) string {
	if plainSafe(v) {
		return v
	}
	return doubleQuote(v)
}

// redefinition copies the vendor's definition with the desired values
// spliced in, the same edit in_place makes.
func redefinition(vendor string, r policy.Rule, file string, line int) (string, error) {
	vendor = dedent(trimTrailingComments(vendor))
	next, vspans, nspans, want, _, err := desiredItem(vendor, nil, r)
	if err != nil {
		return "", err
	}
	if _, _, err := checkItem(vendor, vspans, next, nspans, want); err != nil {
		return "", err
	}
	return fmt.Sprintf("# copied from %s:%d\n%s", file, line, next), nil
}

// dedent moves an entry of an indented list to column 0, the column of
// every other entry of the file rulekeeper writes: every line loses up to
// the dash's indentation (a block's lines, indented further, keep the rest).
func dedent(s string) string {
	col := len(s) - len(strings.TrimLeft(s, " "))
	if col == 0 {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		n := min(col, len(l)-len(strings.TrimLeft(l, " ")))
		lines[i] = l[n:]
	}
	return strings.Join(lines, "")
}

// trimTrailingComments drops the blank and comment lines an item carries
// after its last value (they introduce the next item in the vendor file).
func trimTrailingComments(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for len(lines) > 1 {
		l := strings.TrimRight(lines[len(lines)-1], "\n")
		if l == "" || strings.HasPrefix(l, "#") {
			lines = lines[:len(lines)-1]
			continue
		}
		break
	}
	out := strings.Join(lines, "")
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

// checkOwnFile parses the generated file and checks every list, then every
// macro, then every rule, is in it once.
func checkOwnFile(out string, lists []policy.List, macros []policy.Macro, rules []policy.Rule) error {
	var items []map[string]any
	if err := unmarshal([]byte(out), &items); err != nil {
		return fmt.Errorf("the generated file is not valid YAML: %w", yamlError(err))
	}
	if len(items) != len(lists)+len(macros)+len(rules) {
		return fmt.Errorf("the generated file has %d entries for %d lists, %d macros and %d rules", len(items), len(lists), len(macros), len(rules))
	}
	var names []string
	for _, l := range lists {
		names = append(names, "list", l.Name)
	}
	for _, m := range macros {
		names = append(names, "macro", m.Name)
	}
	for _, r := range rules {
		names = append(names, "rule", r.Name)
	}
	for i, it := range items {
		kind, name := names[2*i], names[2*i+1]
		if it[kind] != name {
			return fmt.Errorf("entry %d is %v, not %s %q", i+1, it[kind], kind, name)
		}
	}
	return nil
}

// listEntry is a list's entry in the agent-owned file. From Falco 0.37 an
// `override:` entry appends the new items, or replaces the list where an
// item goes; before, `append: true` adds items, and taking one out needs a
// definition of the whole list (a later definition replaces the earlier).
func listEntry(l policy.List, effective, items []string, modern bool) string {
	addOnly := !l.Replace && len(l.Remove) == 0
	head := "- list: " + oneLine(l.Name) + "\n"
	switch {
	case addOnly && modern:
		return head + "  items: " + flowList(items[len(effective):]) + "\n  override:\n    items: append\n"
	case modern:
		return head + "  items: " + flowList(items) + "\n  override:\n    items: replace\n"
	case addOnly:
		return head + "  append: true\n  items: " + flowList(items[len(effective):]) + "\n"
	}
	return head + "  items: " + flowList(items) + "\n"
}

func flowList(items []string) string {
	q := make([]string, len(items))
	for i, v := range items {
		q[i] = flowItem(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// listItemsAfter is the items of a list's definition in the vendor file as
// this plan leaves it (an edit in place may be going back to the vendor's).
func (p *Plan) listItemsAfter(rf map[string]*rulesFile, ld listDef) []string {
	for _, fc := range p.Files {
		if fc.Path != ld.file || fc.Action != Update {
			continue
		}
		c, err := readRules(ld.file, fc.New, p.cutNew[ld.file])
		if err != nil {
			break
		}
		if i, ok := c.lastDef("list", rf[ld.file].items[ld.item].name); ok {
			if m, err := c.entry(i); err == nil {
				if items, err := seqItems(mapValue(m, "items")); err == nil {
					return items
				}
			}
		}
	}
	return ld.items
}

// ownRules are the rule blocks that change something.
func ownRules(rules []policy.Rule) []policy.Rule {
	var out []policy.Rule
	for _, r := range rules {
		if len(fieldsOf(r)) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func fieldsOf(r policy.Rule) []string {
	var f []string
	if r.Output != nil {
		f = append(f, "output")
	}
	if r.Priority != nil {
		f = append(f, "priority")
	}
	if r.Enabled != nil {
		f = append(f, "enabled")
	}
	if r.Condition != nil {
		f = append(f, "condition")
	}
	if r.Desc != nil {
		f = append(f, "desc")
	}
	if r.Tags != nil {
		f = append(f, "tags")
	}
	if len(r.Exceptions) > 0 {
		f = append(f, "exceptions")
	}
	return f
}
