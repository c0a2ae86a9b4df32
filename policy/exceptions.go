package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Exception is a Falco rule exception the policy adds to a rule: a new one
// (Fields set), or rows of values added to an exception of that name the
// vendor's rule defines (Fields empty).
type Exception struct {
	Name   string
	Fields []string `json:",omitempty"`
	// Comps has one comparison per field, or is empty: Falco's default,
	// "=" for every field.
	Comps []string `json:",omitempty"`
	// Values are rows, one value per field.
	Values [][]ExceptionValue
	Pos    string
}

// ExceptionValue is one value of a row: a word, or (for the comparisons
// that take one: in, pmatch, intersects) a list of words.
type ExceptionValue struct {
	Text string   `json:",omitempty"`
	List []string `json:",omitempty"`
}

// IsList tells whether the value is a list (an empty one is refused).
func (v ExceptionValue) IsList() bool { return v.List != nil }

var exceptionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "when"}, {Name: "fields"}, {Name: "comps"}, {Name: "values", Required: true}},
}

// comps are the comparisons every Falco here accepts in an exception
// (0.32.1, 0.40.0 and 0.44.1, tried with `falco -V`). `<`, `<=`, `>` and
// `>=` compile on numeric fields only, `bcontains` and `bstartswith` on
// byte buffers only; `exists` and `bendswith` are refused in exceptions.
var comps = []string{"=", "==", "!=", "<", "<=", ">", ">=", "in", "pmatch", "intersects",
	"startswith", "endswith", "contains", "icontains", "glob", "bcontains", "bstartswith"}

// newerComps are accepted from Falco 0.40.0 (0.40.0 and 0.44.1 take them;
// 0.32.1 says "is not a supported comparison operator").
var newerComps = []string{"regex", "iglob"}

// listComps take a list value (`proc.name in (sh, bash)`); the others a word.
var listComps = []string{"in", "pmatch", "intersects"}

// addException decodes an exception block of a rule.
func addException(b *hcl.Block, r *ruleBlock) hcl.Diagnostics {
	content, diags := b.Body.Content(exceptionSchema)
	nb := &namedBlock{kind: "exception", name: b.Labels[0], defRange: b.DefRange, labelRange: b.LabelRanges[0],
		attrs: content.Attributes, broken: diags.HasErrors()}
	for _, first := range r.exceptions {
		if first.name == nb.name {
			return append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate exception block",
				Detail: fmt.Sprintf("The exception %q of this rule is also declared at %s. Declare each once; merge the two blocks.",
					nb.name, pos(first.defRange)),
				Subject: nb.labelRange.Ptr(),
			})
		}
	}
	if strings.TrimSpace(nb.name) == "" {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty exception label",
			Detail:   "The label of an exception block is the exception's name in the rule (`- name: NAME` under `exceptions:`).",
			Subject:  nb.labelRange.Ptr(),
		})
	}
	r.exceptions = append(r.exceptions, nb)
	return diags
}

// plural words a count: "1 field", "2 fields".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// exception evaluates an exception block: fields, comps and every row of
// values agree in length, the fields are known to the node's Falco, the
// comparisons are Falco's, and a list value goes with a list comparison.
func (ev *evaluator) exception(nb *namedBlock) (Exception, bool) {
	e := Exception{Name: nb.name, Pos: blockPos(nb.defRange)}
	if !ev.when(nb.attrs) {
		return e, false
	}
	a := nb.attrs
	fields := ev.strList(a["fields"])
	for _, f := range fields {
		e.Fields = append(e.Fields, f.val)
		ev.checkExceptionField(f)
	}
	if a["fields"] != nil && len(fields) == 0 && ev.allKnown(hcl.Attributes{"fields": a["fields"]}) {
		ev.fail(a["fields"].Expr.Range(), "Empty fields", "An exception compares at least one field; name them, or leave fields out to add values to the vendor's exception of this name.")
	}
	cs := ev.strList(a["comps"])
	for i, c := range cs {
		e.Comps = append(e.Comps, c.val)
		ev.checkComp(c)
		if i < len(e.Fields) {
			ev.checkCompType(c, e.Fields[i])
		}
	}
	if ca := a["comps"]; ca != nil && a["fields"] == nil {
		ev.fail(ca.NameRange, "comps without fields", fmt.Sprintf(
			"Without fields, exception %q adds values to the vendor's exception of that name, whose comparisons Falco does not let a later entry change. Remove comps, or give fields too for a new exception.", nb.name))
	}
	if a["comps"] != nil && len(e.Fields) > 0 && len(cs) > 0 && len(cs) != len(e.Fields) {
		ev.fail(a["comps"].Expr.Range(), "comps and fields differ in length", fmt.Sprintf(
			"comps has %s for %s (at %s); give one per field, in the same order, or leave comps out for \"=\" on each.",
			plural(len(cs), "comparison"), plural(len(e.Fields), "field"), pos(a["fields"].Expr.Range())))
	}
	e.Values = ev.exceptionRows(a["values"], e)
	return e, true
}

// checkExceptionField refuses a field the node's Falco does not know.
func (ev *evaluator) checkExceptionField(f item) {
	name := f.val
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if ok, sugg := ev.cat.Check(name); !ok {
		detail := ""
		if sugg != "" {
			detail = fmt.Sprintf("Did you mean %s? ", strings.TrimPrefix(sugg, "%"))
		}
		ev.fail(f.rng, "Unknown Falco field "+f.val, detail+fmt.Sprintf(
			"The field catalogue of Falco %s (policy/fields/%s) has no field %s; Falco would refuse the rule.", ev.cat.Version, ev.cat.Source, f.val))
	}
}

// checkComp refuses a comparison the node's Falco does not accept in an
// exception; a Falco of unknown version is taken to be current.
func (ev *evaluator) checkComp(c item) {
	if slices.Contains(comps, c.val) {
		return
	}
	older := ev.falcoVersion != "" && !versionAtLeast(ev.falcoVersion, "0.40.0")
	if slices.Contains(newerComps, c.val) {
		if !older {
			return
		}
		ev.fail(c.rng, fmt.Sprintf("Comparison %q needs Falco 0.40.0 or later", c.val), fmt.Sprintf(
			"Falco %s does not accept %q in an exception (\"not a supported comparison operator\"). It accepts %s.", ev.falcoVersion, c.val, quoteList(comps)))
		return
	}
	accepted := quoteList(comps)
	all := comps
	if !older {
		all = append(slices.Clone(comps), newerComps...)
		accepted = quoteList(all)
	} else {
		accepted += fmt.Sprintf(" (and %s from Falco 0.40.0)", quoteList(newerComps))
	}
	ev.fail(c.rng, fmt.Sprintf("Unknown comparison %q", c.val), fmt.Sprintf(
		"%sFalco accepts %s in an exception's comps.", didYouMean(c.val, all, `"%s"`), accepted))
}

// textOnly are comparisons Falco refuses on a text (CHARBUF) field, seen
// with -V on every version here: "expected a number value" for the
// orderings, "operator not supported" for the byte ones.
var textOnly = map[string]string{
	"<": "numbers", "<=": "numbers", ">": "numbers", ">=": "numbers",
	"bcontains": "byte buffers", "bstartswith": "byte buffers",
}

// checkCompType refuses a comparison the field's type does not take.
func (ev *evaluator) checkCompType(c item, field string) {
	kind, ok := textOnly[c.val]
	if !ok || ev.fieldType(field) != "CHARBUF" {
		return
	}
	ev.fail(c.rng, fmt.Sprintf("Comparison %q on the text field %s", c.val, field), fmt.Sprintf(
		"%q compares %s, and %s is text (CHARBUF in policy/fields/%s): Falco refuses the rule. Use =, startswith, contains, glob or in for text.",
		c.val, kind, field, ev.cat.Source))
}

// fieldType is the type column of a field's row in the catalogue, "" when
// the field has no row of its own.
func (ev *evaluator) fieldType(field string) string {
	text, quoted := ev.cat.text(), "\n`"+field+"`"
	i := strings.Index(text, quoted)
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(text[i+len(quoted):], "\n")
	t, ok := strings.CutPrefix(strings.TrimSpace(line), "|")
	if !ok {
		return ""
	}
	t, _, _ = strings.Cut(t, "|")
	return strings.TrimSpace(t)
}

// versionAtLeast compares Falco versions; an unreadable one is not at least.
func versionAtLeast(v, min string) bool {
	a, ok := parseVersion(v)
	b, _ := parseVersion(min)
	return ok && !a.less(b)
}

// exceptionRows evaluates values: a list of rows, each a list of one value
// per field, a value a word or a list of words.
func (ev *evaluator) exceptionRows(attr *hcl.Attribute, e Exception) [][]ExceptionValue {
	v := ev.value(attr, cty.DynamicPseudoType)
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil
	}
	shape := "values is a list of rows, one value per field: [[\"registry.example.com/team/debug\", [\"sh\", \"bash\"]]]"
	if !v.Type().IsListType() && !v.Type().IsTupleType() {
		ev.fail(attr.Expr.Range(), "values is not a list of rows", shape+".")
		return nil
	}
	if v.LengthInt() == 0 {
		ev.fail(attr.Expr.Range(), "Empty values", fmt.Sprintf("Exception %q adds no values; give at least one row, or remove the block.", e.Name))
		return nil
	}
	rowExprs := exprList(attr.Expr, v.LengthInt())
	var rows [][]ExceptionValue
	for i, row := range v.AsValueSlice() {
		rng := attr.Expr.Range()
		if rowExprs != nil {
			rng = rowExprs[i].Range()
		}
		if row.IsNull() || (!row.Type().IsListType() && !row.Type().IsTupleType()) {
			ev.fail(rng, "Row of values is not a list", shape+"; write even a single value as a row: [[\"sh\"]].")
			continue
		}
		var elems []hcl.Expression
		if rowExprs != nil {
			elems = exprList(rowExprs[i], row.LengthInt())
		}
		n := len(e.Fields)
		if n > 0 && row.LengthInt() != n {
			ev.fail(rng, "Row and fields differ in length", fmt.Sprintf(
				"This row has %s for the %s %s; give one value per field, in the same order.", plural(row.LengthInt(), "value"), plural(n, "field"), strings.Join(e.Fields, ", ")))
			continue
		}
		var out []ExceptionValue
		for j, el := range row.AsValueSlice() {
			erng := rng
			if elems != nil {
				erng = elems[j].Range()
			}
			if x, ok := ev.exceptionValue(el, erng); ok {
				comp := "="
				if j < len(e.Comps) {
					comp = e.Comps[j]
				}
				if x.IsList() && len(e.Fields) > 0 && !slices.Contains(listComps, comp) {
					ev.fail(erng, "List value for a comparison of one value", fmt.Sprintf(
						"The comparison of %s is %q, which takes one value; a list goes with %s. Give one value, or set that comparison in comps.", e.Fields[j], comp, quoteList(listComps)))
				}
				out = append(out, x)
			}
		}
		if len(out) == row.LengthInt() {
			rows = append(rows, out)
		}
	}
	if len(e.Fields) == 0 { // values for the vendor's exception: its rows must agree among themselves
		for i, r := range rows {
			if len(r) != len(rows[0]) {
				rng := attr.Expr.Range()
				if rowExprs != nil {
					rng = rowExprs[i].Range()
				}
				ev.fail(rng, "Rows differ in length", fmt.Sprintf("This row has %s, the first %d; each row has one value per field of the exception.", plural(len(r), "value"), len(rows[0])))
			}
		}
	}
	return rows
}

// exceptionValue reads one value: a word, or a non-empty list of words.
func (ev *evaluator) exceptionValue(v cty.Value, rng hcl.Range) (ExceptionValue, bool) {
	word := func(v cty.Value, rng hcl.Range) (string, bool) {
		s, err := convert.Convert(v, cty.String)
		if err != nil || s.IsNull() {
			ev.fail(rng, "Value is not a word", "A value of an exception is a string (or, for in, pmatch and intersects, a list of strings).")
			return "", false
		}
		t := s.AsString()
		switch {
		case strings.TrimSpace(t) == "":
			ev.fail(rng, "Empty value", "Falco refuses an empty exception value (\"Value must be non-empty\"); remove it.")
			return "", false
		case strings.ContainsAny(t, "\n\r\x00"):
			ev.fail(rng, "Line break in value", "An exception value is one word on one line.")
			return "", false
		}
		return t, true
	}
	if v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType() {
		if v.LengthInt() == 0 {
			ev.fail(rng, "Empty list value", "Falco cannot compare with an empty list; give its items, or remove the row.")
			return ExceptionValue{}, false
		}
		var out []string
		ok := true
		for _, el := range v.AsValueSlice() {
			s, good := word(el, rng)
			ok = ok && good
			out = append(out, s)
		}
		return ExceptionValue{List: out}, ok
	}
	s, ok := word(v, rng)
	return ExceptionValue{Text: s}, ok
}

// exprList is the element expressions of a list written out, or nil.
func exprList(e hcl.Expression, n int) []hcl.Expression {
	exprs, d := hcl.ExprList(e)
	if d.HasErrors() || len(exprs) != n {
		return nil
	}
	return exprs
}
