package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// vendorException is an exception the vendor's rule defines.
type vendorException struct {
	name   string
	node   *yaml.Node // its mapping
	fields []string
	single bool // `fields: proc.name`: the values are words, not rows
	comps  []string
	values *yaml.Node // nil when the exception has none
}

// vendorExceptions reads the exceptions of a rule's definition.
func vendorExceptions(m *yaml.Node) ([]vendorException, error) {
	seq := resolve(mapValue(m, "exceptions"))
	if seq == nil || (seq.Kind == yaml.ScalarNode && seq.Tag == "!!null") {
		return nil, nil
	}
	if seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: exceptions is not a list (YAML %s)", seq.Line, kindName(seq.Kind))
	}
	var out []vendorException
	for _, en := range seq.Content {
		en = resolve(en)
		if en.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: an exception that is not a mapping (YAML %s)", en.Line, kindName(en.Kind))
		}
		ve := vendorException{node: en, values: resolve(mapValue(en, "values"))}
		if n := resolve(mapValue(en, "name")); n != nil {
			ve.name = n.Value
		}
		ve.fields, ve.single = words(mapValue(en, "fields"))
		ve.comps, _ = words(mapValue(en, "comps"))
		if ve.values != nil && ve.values.Tag == "!!null" {
			ve.values = nil
		}
		out = append(out, ve)
	}
	return out, nil
}

// words reads `[a, b]` or a single `a`; single tells which it was.
func words(n *yaml.Node) (out []string, single bool) {
	n = resolve(n)
	switch {
	case n == nil:
		return nil, false
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}, true
	}
	for _, c := range n.Content {
		out = append(out, resolve(c).Value)
	}
	return out, false
}

// compsOf is an exception's comparisons, Falco's default "=" where none are given.
func compsOf(fields, comps []string, single bool) []string {
	if len(comps) > 0 {
		return comps
	}
	def := "="
	if single {
		def = "in" // a single field is compared with the list of its values
	}
	out := make([]string, len(fields))
	for i := range out {
		out[i] = def
	}
	return out
}

// plannedException is a policy exception as it applies to the vendor's
// rule: new, or values for the vendor's exception of that name (existing).
type plannedException struct {
	policy.Exception
	existing *vendorException
}

// planExceptions matches the policy's exceptions with the vendor's. An
// exception given without fields must exist; one given with fields under a
// name the vendor uses must have the vendor's fields and comparisons, and
// then only adds values (Falco refuses new fields for an existing name).
func planExceptions(r policy.Rule, vendor []vendorException) ([]plannedException, error) {
	var out []plannedException
	var errs []string
	names := make([]string, len(vendor))
	for i, v := range vendor {
		names[i] = v.name
	}
	for _, e := range r.Exceptions {
		pe := plannedException{Exception: e}
		i := slices.IndexFunc(vendor, func(v vendorException) bool { return v.name == e.Name })
		if i >= 0 {
			pe.existing = &vendor[i]
		}
		ve := pe.existing
		switch {
		case ve == nil && len(e.Fields) == 0:
			hint := " The rule defines no exception."
			if len(names) > 0 {
				hint = fmt.Sprintf(" Its exceptions are %s.", strings.Join(names, ", "))
				if s := closest(e.Name, names); s != "" {
					hint = fmt.Sprintf(" Did you mean %q?", s) + hint
				}
			}
			errs = append(errs, fmt.Sprintf("%s: exception %q: rule %q has no exception of that name to add values to.%s Give fields (and comps) to add a new exception, or correct the name",
				e.Pos, e.Name, r.Name, hint))
			continue
		case ve != nil && len(e.Fields) > 0:
			same := !ve.single && slices.Equal(ve.fields, e.Fields) &&
				slices.Equal(compsOf(ve.fields, ve.comps, false), compsOf(e.Fields, e.Comps, false))
			if !same {
				errs = append(errs, fmt.Sprintf("%s: exception %q: rule %q already has an exception of that name, with fields %s and comps %s: Falco only adds values to it. Leave out fields and comps to add values to it, or give the new exception another name",
					e.Pos, e.Name, r.Name, flowList(ve.fields), flowList(compsOf(ve.fields, ve.comps, ve.single))))
				continue
			}
		}
		if ve != nil {
			if err := rowsFit(e, *ve); err != nil {
				errs = append(errs, fmt.Sprintf("%s: exception %q: %v", e.Pos, e.Name, err))
				continue
			}
		}
		out = append(out, pe)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

// rowsFit checks values given for the vendor's exception against its fields.
func rowsFit(e policy.Exception, ve vendorException) error {
	n, comps := len(ve.fields), compsOf(ve.fields, ve.comps, ve.single)
	if len(comps) != n && !ve.single {
		return fmt.Errorf("the vendor's exception has %d fields and %d comps, which Falco refuses (\"Fields and comps lists must have equal length\"): correct it in the file first", n, len(comps))
	}
	for _, row := range e.Values {
		if ve.single {
			if len(row) != 1 || row[0].IsList() {
				return fmt.Errorf("the vendor's exception compares the one field %s with a list of words: give rows of one word each, such as [[\"x\"], [\"y\"]]", strings.Join(ve.fields, ""))
			}
			continue
		}
		if len(row) != n {
			return fmt.Errorf("a row has %d values for the %d fields %s of the vendor's exception: give one value per field, in that order", len(row), n, flowList(ve.fields))
		}
		for j, v := range row {
			if v.IsList() && !slices.Contains([]string{"in", "pmatch", "intersects"}, comps[j]) {
				return fmt.Errorf("a list value for %s, which the vendor's exception compares with %q: give one value", ve.fields[j], comps[j])
			}
		}
	}
	return nil
}

// flowRow writes a row of values as a flow list: `[nginx, [sh, bash]]`.
func flowRow(row []policy.ExceptionValue) string {
	q := make([]string, len(row))
	for i, v := range row {
		q[i] = flowValue(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func flowValue(v policy.ExceptionValue) string {
	if v.IsList() {
		return flowList(v.List)
	}
	return flowItem(v.Text)
}

// rows are the exception's rows as its values list holds them: flow lists, or
// words for a single-field exception.
func (pe plannedException) rows() []string {
	out := make([]string, len(pe.Values))
	for i, row := range pe.Values {
		if pe.existing != nil && pe.existing.single {
			out[i] = flowValue(row[0])
			continue
		}
		out[i] = flowRow(row)
	}
	return out
}

// block is the exception as an entry of a block list whose dashes stand
// at column ind: the whole exception, or the name and values alone.
func (pe plannedException) block(ind string) string {
	var b strings.Builder
	b.WriteString(ind + "- name: " + oneLine(pe.Name) + "\n")
	if pe.existing == nil {
		b.WriteString(ind + "  fields: " + flowList(pe.Fields) + "\n")
		if len(pe.Comps) > 0 {
			b.WriteString(ind + "  comps: " + flowList(pe.Comps) + "\n")
		}
	}
	b.WriteString(ind + "  values:\n")
	for _, r := range pe.rows() {
		b.WriteString(ind + "    - " + r + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// flow is the exception as a flow mapping.
func (pe plannedException) flow() string {
	parts := []string{"name: " + flowItem(pe.Name)}
	if pe.existing == nil {
		parts = append(parts, "fields: "+flowList(pe.Fields))
		if len(pe.Comps) > 0 {
			parts = append(parts, "comps: "+flowList(pe.Comps))
		}
	}
	parts = append(parts, "values: ["+strings.Join(pe.rows(), ", ")+"]")
	return "{" + strings.Join(parts, ", ") + "}"
}

// rowValue is a row as Falco reads it (decoded YAML), for the check.
func rowValue(pe plannedException, row []policy.ExceptionValue) any {
	val := func(v policy.ExceptionValue) any {
		if !v.IsList() {
			return v.Text
		}
		l := make([]any, len(v.List))
		for i, s := range v.List {
			l[i] = s
		}
		return l
	}
	if pe.existing != nil && pe.existing.single {
		return val(row[0])
	}
	out := make([]any, len(row))
	for i, v := range row {
		out[i] = val(v)
	}
	return out
}

// wantExceptions is the rule's exceptions as Falco reads them once the
// planned ones are added to the vendor's (decoded from its item).
func wantExceptions(cur any, planned []plannedException) string {
	list, _ := cur.([]any)
	list = slices.Clone(list)
	for _, pe := range planned {
		var rows []any
		for _, r := range pe.Values {
			rows = append(rows, rowValue(pe, r))
		}
		if pe.existing == nil {
			m := map[string]any{"name": pe.Name, "fields": toAny(pe.Fields), "values": rows}
			if len(pe.Comps) > 0 {
				m["comps"] = toAny(pe.Comps)
			}
			list = append(list, m)
			continue
		}
		for i, x := range list {
			if m, ok := x.(map[string]any); ok && fmt.Sprint(m["name"]) == pe.Name {
				c := map[string]any{}
				for k, v := range m {
					c[k] = v
				}
				old, _ := c["values"].([]any)
				c["values"] = append(slices.Clone(old), rows...)
				list[i] = c
				break
			}
		}
	}
	return fmt.Sprint(list)
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// exceptionsEdit adds the rule's exceptions to the vendor's item: new
// exceptions after the vendor's, in the file's own layout (an `exceptions:`
// key is created where the rule has none), values after the named
// exception's. It returns one edit of the whole `exceptions` value.
func exceptionsEdit(vendor string, m *yaml.Node, r policy.Rule) (edit, string, Value, error) {
	text := []byte(vendor)
	vex, err := vendorExceptions(m)
	if err != nil {
		return edit{}, "", Value{}, err
	}
	planned, err := planExceptions(r, vex)
	if err != nil {
		return edit{}, "", Value{}, err
	}
	var cur any // decoded from the node: no second parse of the item
	if n := mapValue(m, "exceptions"); n != nil {
		if err := n.Decode(&cur); err != nil {
			return edit{}, "", Value{}, err
		}
	}
	want := wantExceptions(cur, planned)
	reg, err := locate(text, m, "exceptions")
	if err != nil {
		return edit{}, "", Value{}, err
	}
	if reg.absent {
		var raw string
		if reg.flow {
			reg.start = flowInsert(vendor, reg.start)
			fl := make([]string, len(planned))
			for i, pe := range planned {
				fl[i] = pe.flow()
			}
			raw = ", exceptions: [" + strings.Join(fl, ", ") + "]"
		} else {
			ind := strings.Repeat(" ", reg.keyCol)
			raw = "\n" + ind + "exceptions:"
			for _, pe := range planned {
				raw += "\n" + pe.block(ind+"  ")
			}
		}
		return edit{reg.start, reg.start, raw}, want, Value{Rule: r.Name, Field: "exceptions", Absent: true, Written: raw}, nil
	}
	if reg.node == nil || reg.node.Kind != yaml.SequenceNode {
		return edit{}, "", Value{}, fmt.Errorf("the rule's exceptions are empty: write `exceptions: []` in the file")
	}
	starts := lineStarts(text)
	var edits []edit
	added := false
	for _, pe := range planned {
		if pe.existing == nil {
			added = true
			continue
		}
		e, err := valuesEdit(text, starts, pe)
		if err != nil {
			return edit{}, "", Value{}, fmt.Errorf("exception %q: %w", pe.Name, err)
		}
		edits = append(edits, e)
	}
	if added {
		seq := reg.node
		var e edit
		if seq.Style&yaml.FlowStyle != 0 {
			var fl []string
			for _, pe := range planned {
				if pe.existing == nil {
					fl = append(fl, pe.flow())
				}
			}
			if e, err = flowAppend(text, nodeOffset(text, starts, seq), strings.Join(fl, ", ")); err != nil {
				return edit{}, "", Value{}, err
			}
		} else {
			ind, err := dashIndent(text, starts, seq)
			if err != nil {
				return edit{}, "", Value{}, err
			}
			var b strings.Builder
			for _, pe := range planned {
				if pe.existing == nil {
					b.WriteString("\n" + pe.block(ind))
				}
			}
			e = edit{reg.end, reg.end, b.String()}
		}
		edits = append(edits, e)
	}
	next, _ := splice(vendor, edits)
	end := reg.end + len(next) - len(vendor)
	written := next[reg.start:end]
	return edit{reg.start, reg.end, written}, want,
		Value{Rule: r.Name, Field: "exceptions", Original: vendor[reg.start:reg.end], Written: written}, nil
}

// valuesEdit adds rows to the values of the vendor's exception.
func valuesEdit(text []byte, starts []int, pe plannedException) (edit, error) {
	ve := pe.existing
	rows := pe.rows()
	en := ve.node
	switch v := ve.values; {
	case v == nil && en.Style&yaml.FlowStyle != 0:
		return flowAppendMap(text, nodeOffset(text, starts, en), "values: ["+strings.Join(rows, ", ")+"]")
	case v == nil:
		at, err := blockEnd(text, starts, en)
		if err != nil {
			return edit{}, err
		}
		ind := strings.Repeat(" ", en.Content[0].Column-1)
		return edit{at, at, "\n" + ind + "values:\n" + ind + "  - " + strings.Join(rows, "\n"+ind+"  - ")}, nil
	case v.Kind != yaml.SequenceNode:
		return edit{}, fmt.Errorf("line %d: its values are not a list (YAML %s)", v.Line, kindName(v.Kind))
	case v.Style&yaml.FlowStyle != 0:
		return flowAppend(text, nodeOffset(text, starts, v), strings.Join(rows, ", "))
	default:
		at, err := blockEnd(text, starts, v)
		if err != nil {
			return edit{}, err
		}
		ind, err := dashIndent(text, starts, v)
		if err != nil {
			return edit{}, err
		}
		return edit{at, at, "\n" + ind + "- " + strings.Join(rows, "\n"+ind+"- ")}, nil
	}
}

// flowAppend adds items at the end of the flow list opening at open.
func flowAppend(text []byte, open int, items string) (edit, error) {
	c, err := flowClose(text, open)
	if err != nil {
		return edit{}, err
	}
	at := c
	for at > open && strings.ContainsRune(" \t\r\n", rune(text[at-1])) {
		at--
	}
	switch text[at-1] {
	case '[':
		return edit{at, at, items}, nil
	case ',':
		return edit{at, at, " " + items}, nil
	}
	return edit{at, at, ", " + items}, nil
}

// flowAppendMap adds a `key: value` pair at the end of a flow mapping.
func flowAppendMap(text []byte, open int, pair string) (edit, error) {
	c, err := flowClose(text, open)
	if err != nil {
		return edit{}, err
	}
	at := c
	for at > open && strings.ContainsRune(" \t\r\n", rune(text[at-1])) {
		at--
	}
	if text[at-1] == '{' || text[at-1] == ',' {
		return edit{at, at, " " + pair}, nil
	}
	return edit{at, at, ", " + pair}, nil
}

// dashIndent is the indentation of a block list's dashes.
func dashIndent(text []byte, starts []int, seq *yaml.Node) (string, error) {
	if len(seq.Content) == 0 {
		return "", fmt.Errorf("line %d: an empty block list", seq.Line)
	}
	line := lineAt(text, starts, seq.Content[0].Line-1)
	rest := strings.TrimLeft(line, " ")
	if !strings.HasPrefix(rest, "- ") {
		return "", fmt.Errorf("line %d: rulekeeper adds to block lists whose entries start their lines with `- `; write this list so", seq.Content[0].Line)
	}
	return line[:len(line)-len(rest)], nil
}

// blockEnd is the end of the last line of a block node: where a line
// added after it goes.
func blockEnd(text []byte, starts []int, n *yaml.Node) (int, error) {
	switch {
	case n.Kind == yaml.AliasNode:
		return 0, fmt.Errorf("line %d: an alias: write the value out", n.Line)
	case n.Style&yaml.FlowStyle != 0:
		c, err := flowClose(text, nodeOffset(text, starts, n))
		if err != nil {
			return 0, err
		}
		// After a comment that ends the line, not before it.
		l := n.Line - 1
		for l+1 < len(starts) && starts[l+1] <= c {
			l++
		}
		end := starts[l] + len(lineAt(text, starts, l))
		if rest := strings.TrimSpace(string(text[c+1 : end])); rest == "" || strings.HasPrefix(rest, "#") {
			return end, nil
		}
		return c + 1, nil
	case n.Kind == yaml.ScalarNode:
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return 0, fmt.Errorf("line %d: a block scalar ends the exception: rulekeeper adds values after one-line values", n.Line)
		}
		l := n.Line - 1
		return starts[l] + len(lineAt(text, starts, l)), nil
	case len(n.Content) == 0:
		return 0, fmt.Errorf("line %d: an empty block", n.Line)
	}
	return blockEnd(text, starts, n.Content[len(n.Content)-1])
}

// exceptionsText renders a rule's exceptions as Falco reads them, for plans.
func exceptionsText(list []any) string {
	var parts []string
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			parts = append(parts, fmt.Sprint(x))
			continue
		}
		s := fmt.Sprintf("%v: fields=%v", m["name"], m["fields"])
		if c, ok := m["comps"]; ok {
			s += fmt.Sprintf(" comps=%v", c)
		}
		parts = append(parts, s+fmt.Sprintf(" values=%v", m["values"]))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// exceptionsEntry is the `exceptions:` part of a drop-in entry: the new
// exceptions whole, and name and values alone for the vendor's.
func exceptionsEntry(vendor *yaml.Node, r policy.Rule) (string, error) {
	vex, err := vendorExceptions(vendor)
	if err != nil {
		return "", err
	}
	planned, err := planExceptions(r, vex)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("  exceptions:\n")
	for _, pe := range planned {
		b.WriteString(pe.block("    ") + "\n")
	}
	return b.String(), nil
}

// appendEntry is the entry that appends to a rule before Falco 0.37:
// `append: true` with the condition's text and the exceptions (values
// alone add to the vendor's exception of that name, as on 0.37+).
func appendEntry(vendor string, r policy.Rule) (string, error) {
	m, err := parseItem([]byte(vendor))
	if err != nil {
		return "", err
	}
	head := "- rule: " + oneLine(r.Name) + "\n"
	if r.Condition != nil {
		head += "  condition: " + oneLine(r.Condition.Append) + "\n"
	}
	head += "  append: true\n"
	if len(r.Exceptions) == 0 {
		return head, nil
	}
	ex, err := exceptionsEntry(m, r)
	if err != nil {
		return "", err
	}
	return head + ex, nil
}
