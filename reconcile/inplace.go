package reconcile

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// planInPlace computes the edits of vendor files: values the policy sets
// (in_place strategy) and values rulekeeper set before that must return to
// the vendor's (a rule left the policy, or the strategy changed).
func (p *Plan) planInPlace(d policy.Desired, rf map[string]*rulesFile, defs map[string]def, lists map[string]listDef, macros map[string]macroDef, st, next *State) error {
	byFile := map[string]map[int]target{}
	put := func(file string, i int, t target) {
		if byFile[file] == nil {
			byFile[file] = map[int]target{}
		}
		byFile[file][i] = t
	}
	if p.Strategy == policy.InPlace {
		for _, r := range d.Rules {
			df := defs[r.Name]
			put(df.file, df.item, target{rule: r})
		}
		for _, l := range d.Lists {
			ld := lists[l.Name]
			put(ld.file, ld.item, target{list: &l, ld: ld})
			p.Notes = append(p.Notes, missingNotes(l, ld.effective())...)
		}
		for _, mac := range d.Macros {
			md := macros[mac.Name]
			put(md.file, md.item, target{macro: &mac, md: md})
		}
	}
	var paths []string
	for f := range byFile {
		paths = append(paths, f)
	}
	for f, fst := range st.Files {
		if !fst.Owned && !fst.Settings && len(fst.Values) > 0 && byFile[f] == nil {
			paths = append(paths, f)
		}
	}
	sort.Strings(paths)
	for _, f := range paths {
		file := rf[f]
		if file == nil { // managed before, no longer among the files Falco loads
			data, err := ReadRulesFile(p.opts.Root, f)
			if os.IsNotExist(err) {
				p.Notes = append(p.Notes, fmt.Sprintf("%s is gone: its managed values are forgotten", f))
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", f, readHint(err))
			}
			if file, err = readRules(f, data, false); err != nil {
				return err
			}
			p.cur[f] = data
		}
		fc, fst, err := p.inPlaceFile(file, byFile[f], st.Files[f])
		if err != nil {
			return err
		}
		if fst != nil {
			next.Files[f] = fst
		}
		if fc != nil {
			p.Files = append(p.Files, fc)
		}
	}
	return nil
}

func (p *Plan) inPlaceFile(rf *rulesFile, rules map[int]target, prev *FileState) (*FileChange, *FileState, error) {
	data := rf.data
	olds, upgrade, err := rf.managed(prev)
	if err != nil {
		return nil, nil, err
	}

	items := map[int]bool{}
	for i := range rules {
		items[i] = true
	}
	for _, f := range olds {
		if f.at {
			items[f.item] = true
		}
	}
	order := make([]int, 0, len(items))
	for i := range items {
		order = append(order, i)
	}
	sort.Ints(order)

	fst := &FileState{}
	var changes []Change
	// The new file is built once, as the bytes to write: a pass copies the
	// 136 KB file no more than it must (each copy is fresh memory a new
	// process pays page faults for).
	out := make([]byte, 0, len(data)+512)
	var spans [][2]int
	last := 0
	cut := rf.simple // the quick cut still holds for the new bytes
	touched := map[int]map[string]bool{}
	wants := map[int]map[string]string{}
	for _, i := range order {
		it := rf.items[i]
		if !rf.simple { // the items of a simple file stand alone, and hold no alias
			if err := rf.editable(i, rules[i].rule); err != nil {
				return nil, nil, err
			}
			if _, err := rf.alone(i); err != nil {
				return nil, nil, err
			}
		}
		text := string(data[it.start:it.end])
		var restore []edit
		var drifted []string
		if !upgrade {
			restore, drifted = restoreEdits(olds, i)
		}
		vendor, _ := splice(text, restore)
		var m *yaml.Node // the item parsed alone, when it is the vendor's
		if len(restore) == 0 {
			if m, err = rf.alone(i); err != nil {
				return nil, nil, err
			}
		}
		next, vspans, nspans, want, values, err := rules[i].desired(vendor, m)
		if err != nil {
			return nil, nil, itemError(rf.path, it, err)
		}
		before, after, err := checkItem(vendor, vspans, next, nspans, want)
		if err != nil {
			return nil, nil, itemError(rf.path, it, fmt.Errorf("refusing to write: %w", err))
		}
		fst.Values = append(fst.Values, values...)
		touched[i], wants[i] = map[string]bool{}, want
		for _, e := range restore {
			for _, f := range olds {
				if f.at && f.item == i && f.reg.start == e.start {
					touched[i][f.Field] = true
				}
			}
		}
		for k := range want {
			touched[i][k] = true
		}
		if text != next {
			if text != vendor { // drift put back: what Falco reads now is not the vendor's
				if before, err = readItem(text); err != nil {
					return nil, nil, itemError(rf.path, it, err)
				}
			}
			changes = append(changes, itemChanges(text, before, after, it, rules[i], drifted, upgrade)...)
			if cut {
				c, err := cutItems([]byte(next))
				cut = err == nil && len(c) == 1 && c[0].kind == it.kind && c[0].name == it.name
			}
		}
		out = append(out, data[last:it.start]...)
		base := len(out)
		for _, s := range nspans {
			spans = append(spans, [2]int{base + s[0], base + s[1]})
		}
		out = append(out, next...)
		last = it.end
	}
	out = append(out, data[last:]...)
	same := bytes.Equal(out, data)
	if len(fst.Values) == 0 && same {
		return nil, nil, nil
	}
	if !rf.simple && !same {
		// Items that do not stand alone (other documents, anchors, flow
		// entries...): Falco must read every other item as before.
		if err := checkWhole(rf, out, touched, wants); err != nil {
			return nil, nil, err
		}
	}
	if !same {
		p.cutNew[rf.path] = cut
	}
	fst.SHA256, fst.Outside = sums(out, spans)
	if len(fst.Values) == 0 {
		fst = nil
	}
	if same {
		return nil, fst, nil
	}
	return &FileChange{Path: rf.path, Action: Update, Changes: changes, Old: rf.data, New: out}, fst, nil
}

// desiredItem applies a rule's desired values to the vendor's item.
// m is the vendor's item already parsed, or nil.
func desiredItem(vendor string, m *yaml.Node, r policy.Rule) (next string, vspans, nspans [][2]int, want map[string]string, values []Value, err error) {
	want = map[string]string{}
	if r.Name == "" {
		return vendor, nil, nil, want, nil, nil
	}
	if m == nil {
		if m, err = parseItem([]byte(vendor)); err != nil {
			return "", nil, nil, nil, nil, err
		}
	}
	var edits []edit
	add := func(field string, render func(region) (raw, text string, err error)) error {
		reg, err := locate([]byte(vendor), m, field)
		if err != nil {
			return err
		}
		raw, txt, err := render(reg)
		if err != nil {
			return err
		}
		orig := vendor[reg.start:reg.end]
		switch {
		case reg.absent && reg.flow:
			reg.start = flowInsert(vendor, reg.start)
			reg.end = reg.start
			raw = ", " + field + ": " + raw
		case reg.absent:
			raw = "\n" + strings.Repeat(" ", reg.keyCol) + field + ": " + raw
		}
		edits = append(edits, edit{reg.start, reg.end, raw})
		vspans = append(vspans, [2]int{reg.start, reg.end})
		want[field] = txt
		values = append(values, Value{Rule: r.Name, Field: field, Original: orig, Absent: reg.absent, Written: raw})
		return nil
	}
	if r.Output != nil {
		err = add("output", func(reg region) (string, string, error) {
			if reg.absent {
				return "", "", fmt.Errorf("the rule has no output to change")
			}
			s, err := applyOutput(readValue(vendor[reg.start:reg.end], reg), *r.Output)
			if err != nil {
				return "", "", err
			}
			return s.render(), s.text(), nil
		})
	}
	if err == nil && r.Condition != nil {
		err = add("condition", conditionValue(vendor, *r.Condition))
	}
	if err == nil && r.Desc != nil {
		err = add("desc", descValue(vendor, *r.Desc))
	}
	if err == nil && r.Tags != nil && (mapValue(m, "tags") != nil || !tagsAbsentNoop(*r.Tags)) {
		err = add("tags", tagsValue(vendor, m, r.Name, *r.Tags))
	}
	if err == nil && r.Priority != nil {
		err = add("priority", simpleValue(vendor, *r.Priority, true, false))
	}
	if err == nil && r.Enabled != nil {
		err = add("enabled", simpleValue(vendor, fmt.Sprint(*r.Enabled), false, true))
	}
	if err == nil && len(r.Exceptions) > 0 {
		var e edit
		var v Value
		if e, want["exceptions"], v, err = exceptionsEdit(vendor, m, r); err == nil {
			edits, values = append(edits, e), append(values, v)
			vspans = append(vspans, [2]int{e.start, e.end})
		}
	}
	if err != nil {
		return "", nil, nil, nil, nil, err
	}
	next, nspans = splice(vendor, edits)
	slices.SortFunc(vspans, func(a, b [2]int) int { return a[0] - b[0] })
	return next, vspans, nspans, want, values, nil
}

// simpleValue renders a one-word value, keeping the vendor's spelling when
// it already means the same (Falco reads priorities case-insensitively).
// A bare value (a YAML bool) is written unquoted whatever the vendor's style:
// quoted, it would read as a string.
func simpleValue(vendor, v string, foldCase, bare bool) func(region) (string, string, error) {
	return func(reg region) (string, string, error) {
		if reg.absent {
			return v, v, nil
		}
		cur := reg.node.Value
		if cur == v || (foldCase && strings.EqualFold(cur, v)) {
			return vendor[reg.start:reg.end], cur, nil
		}
		if bare {
			return v, v, nil
		}
		s := readValue(vendor[reg.start:reg.end], reg)
		s.lines = []string{v}
		return s.render(), v, nil
	}
}

// itemChanges lists, as Falco reads them, the values that differ between the
// item now and the item after the plan.
func itemChanges(now string, a, b map[string]any, it item, r target, drifted []string, upgrade bool) []Change {
	var out []Change
	fields := []string{"condition", "desc", "tags", "output", "priority", "enabled", "exceptions"}
	switch it.kind {
	case "list":
		fields = []string{"items"}
	case "macro":
		fields = []string{"condition"}
	}
	for _, field := range fields {
		ov, nv := valueText(a[field]), valueText(b[field])
		if ov == nv {
			continue
		}
		reason := ReasonPolicy
		switch {
		case slices.Contains(drifted, field):
			reason = ReasonDrift
		case upgrade:
			reason = ReasonUpgrade
		case !r.manages(field):
			reason = ReasonRestore
		}
		kind := ""
		if it.kind != "rule" {
			kind = it.kind
		}
		out = append(out, Change{Kind: kind, Rule: it.name, Field: field, Line: it.line + keyLine(now, field), Old: ov, New: nv, Reason: reason})
	}
	return out
}

// readItem is an item as Falco reads it.
func readItem(text string) (map[string]any, error) {
	var items []map[string]any
	if err := unmarshal([]byte(text), &items); err != nil || len(items) != 1 {
		return nil, fmt.Errorf("does not parse: %v", err)
	}
	return items[0], nil
}

// keyLine is the 0-based line, within an item, of its top-level key; 0 when
// the key is not there. The item's keys stand where its first key does.
func keyLine(text, key string) int {
	lines := strings.Split(text, "\n")
	col := len(lines[0]) - len(strings.TrimLeft(strings.TrimPrefix(lines[0], "-"), " "))
	for n, l := range lines {
		if len(l) > col && strings.HasPrefix(l[col:], key+":") && strings.TrimLeft(l[:col], " -") == "" {
			return n
		}
	}
	return 0
}

func valueText(v any) string {
	if v == nil {
		return ""
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		if _, isMap := l[0].(map[string]any); isMap {
			return exceptionsText(l)
		}
	}
	if l, ok := v.([]any); ok { // a list's items, as its file writes them
		s := make([]string, len(l))
		for i, x := range l {
			s[i] = fmt.Sprint(x)
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

func manages(r policy.Rule, field string) bool {
	switch field {
	case "output":
		return r.Output != nil
	case "priority":
		return r.Priority != nil
	case "enabled":
		return r.Enabled != nil
	case "condition":
		return r.Condition != nil
	case "condition.append": // a later append counts only against a replace
		return r.Condition != nil && r.Condition.Replace != nil
	case "desc":
		return r.Desc != nil
	case "tags":
		return r.Tags != nil
	case "exceptions":
		return len(r.Exceptions) > 0
	}
	return false
}

// target is what the policy asks of one item of a vendor file: a rule's
// values or a list's items. The zero target asks nothing (the item's
// managed values return to the vendor's).
type target struct {
	rule  policy.Rule
	list  *policy.List
	ld    listDef
	macro *policy.Macro
	md    macroDef
}

func (t target) desired(vendor string, m *yaml.Node) (string, [][2]int, [][2]int, map[string]string, []Value, error) {
	switch {
	case t.list != nil:
		return desiredList(vendor, m, *t.list, t.ld)
	case t.macro != nil:
		return desiredMacro(vendor, m, *t.macro, t.md)
	}
	return desiredItem(vendor, m, t.rule)
}

func (t target) manages(field string) bool {
	switch {
	case t.list != nil:
		return field == "items"
	case t.macro != nil:
		return field == "condition" && t.macro.Condition != nil
	}
	return manages(t.rule, field)
}
