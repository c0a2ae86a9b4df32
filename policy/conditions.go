package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// Condition changes a macro's or a rule's condition, described from the
// vendor's: Append is added after it, Replace takes its place.
type Condition struct {
	// Append is added after the vendor's condition as Falco's own append
	// does it: with one space between, so it starts with `and` or `or`.
	Append string `json:",omitempty"`
	// Replace, when non-nil, is the whole new condition; Append is empty.
	Replace *string `json:",omitempty"`
}

// Tags describes a rule's new tags from the vendor's, as a list block
// describes a list's items.
type Tags struct {
	Add, Remove []string `json:",omitempty"`
	// Replace says Items is the whole new set (Add and Remove are empty).
	Replace bool     `json:",omitempty"`
	Items   []string `json:",omitempty"`
}

// Macro is the desired state of one Falco macro.
type Macro struct {
	Name      string
	Condition *Condition `json:",omitempty"`
	Pos       string
}

// A condition or tags block has the shape of an output block: attributes
// only, once per container.
var conditionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "append"}, {Name: "replace"}},
}

var tagsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "add"}, {Name: "remove"}, {Name: "items"}},
}

var macroSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "when"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "condition"}},
}

// inner decodes a block a rule or macro holds once (condition, tags) into
// *slot, refusing a second one.
func inner(b *hcl.Block, schema *hcl.BodySchema, container string, slot **outputBlock) hcl.Diagnostics {
	c, diags := b.Body.Content(schema)
	if *slot != nil {
		return append(diags, secondBlock(b.Type+" block", fmt.Sprintf("This %s already has a %s block", container, b.Type), container, (*slot).defRange, b.DefRange))
	}
	*slot = &outputBlock{defRange: b.DefRange, attrs: c.Attributes, broken: diags.HasErrors()}
	return diags
}

// addRuleBlock decodes a rule's condition or tags block.
func (r *ruleBlock) addInner(b *hcl.Block) hcl.Diagnostics {
	switch b.Type {
	case "condition":
		return inner(b, conditionSchema, "rule", &r.condition)
	case "tags":
		return inner(b, tagsSchema, "rule", &r.tags)
	}
	return nil
}

func (p *Policy) addMacro(b *hcl.Block, seen map[string]*namedBlock) hcl.Diagnostics {
	nb, diags := addNamed(b, macroSchema, "macro", seen)
	if nb == nil {
		return diags
	}
	for _, cb := range nb.blocks {
		diags = append(diags, inner(cb, conditionSchema, "macro", &nb.cond)...)
	}
	if nb.cond == nil && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Macro block manages nothing",
			Detail:   "This block has no condition block, so the macro stays as its vendor wrote it. Add a condition { append = \"and not ...\" }, or remove the block.",
			Subject:  nb.defRange.Ptr(),
		})
	}
	p.macros = append(p.macros, nb)
	return diags
}

// macro evaluates a macro block.
func (ev *evaluator) macro(nb *namedBlock) (Macro, bool) {
	m := Macro{Name: nb.name, Pos: blockPos(nb.defRange)}
	if !ev.when(nb.attrs) {
		return m, false
	}
	if nb.cond != nil {
		m.Condition = ev.condition(nb.cond)
	}
	return m, true
}

// ruleTuning evaluates what a rule block changes beyond output, priority
// and enabled.
func (ev *evaluator) ruleTuning(rb *ruleBlock, r *Rule) {
	if rb.condition != nil {
		r.Condition = ev.condition(rb.condition)
	}
	if rb.tags != nil {
		l, _ := ev.list(&namedBlock{kind: "tags", name: rb.name, defRange: rb.tags.defRange, attrs: rb.tags.attrs, broken: rb.tags.broken})
		r.Tags = &Tags{Add: l.Add, Remove: l.Remove, Replace: l.Replace, Items: l.Items}
	}
	if a := rb.attrs["desc"]; a != nil {
		if s, ok := ev.str(a); ok {
			if strings.TrimSpace(s) == "" {
				ev.fail(a.Expr.Range(), "Empty desc", "A Falco rule needs a description; give the new text, or remove desc.")
			}
			ev.checkControl(s, a.Expr.Range(), "desc")
			r.Desc = &s
		}
	}
}

// condition evaluates a condition block: append or replace, a text Falco
// can read, and fields the node's Falco knows.
func (ev *evaluator) condition(ob *outputBlock) *Condition {
	a := ob.attrs
	c := &Condition{}
	ap, rp := a["append"], a["replace"]
	switch {
	case ap != nil && rp != nil:
		ev.fail(ap.NameRange, "Conflicting condition settings: replace and append", fmt.Sprintf(
			"replace gives the whole new condition (at %s), so append cannot change it too. Put the appended text into replace, or remove replace.",
			pos(rp.NameRange)))
		return c
	case ap == nil && rp == nil:
		if !ob.broken {
			ev.fail(ob.defRange, "Empty condition block", "Set append (text added after the vendor's condition) or replace (the whole new condition), or remove the block.")
		}
		return c
	}
	attr := ap
	if rp != nil {
		attr = rp
	}
	s, ok := ev.str(attr)
	if !ok {
		return c
	}
	rng := attr.Expr.Range()
	switch {
	case strings.TrimSpace(s) == "":
		ev.fail(rng, "Empty "+attr.Name, fmt.Sprintf("A condition %s needs a text; give it, or remove the condition block.", attr.Name))
		return c
	case ap != nil && !joins(s):
		ev.fail(rng, "Appended condition does not start with and/or", fmt.Sprintf(
			"Falco appends the text after the vendor's condition with one space between, so %q would follow it with no operator. Start it with `and` or `or`, such as \"and not (proc.name = sh)\".", s))
	}
	ev.checkControl(s, rng, "condition")
	ev.checkConditionFields(s, rng)
	if rp != nil {
		c.Replace = &s
	} else {
		c.Append = s
	}
	return c
}

// joins tells whether an appended condition starts with Falco's `and` or
// `or`, which join it to the condition before it.
func joins(s string) bool {
	s = strings.TrimLeft(s, " \t\n")
	for _, op := range []string{"and", "or"} {
		if rest, ok := strings.CutPrefix(s, op); ok && (rest == "" || strings.ContainsAny(rest[:1], " \t\n(")) {
			return true
		}
	}
	return false
}

// checkControl refuses control characters other than tabs and line breaks.
func (ev *evaluator) checkControl(s string, rng hcl.Range, what string) {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			ev.fail(rng, "Control character in "+what, fmt.Sprintf(
				"The text holds the control character %U; remove it (tabs and line breaks are allowed).", r))
			return
		}
	}
}

// checkConditionFields reports every field of a condition text that the
// node's Falco does not know. Falco's own `-V` judges the rest of the
// syntax; this check gives the policy's line and column and a suggestion.
func (ev *evaluator) checkConditionFields(s string, rng hcl.Range) {
	for _, tok := range conditionFields(s) {
		class, rest, _ := strings.Cut(tok.name, ".")
		ok, sugg := true, ""
		switch {
		case ev.cat.hasClass(class):
			ok, sugg = ev.cat.Check(tok.name)
			ok = ok || ev.cat.conditionOnly(tok.name)
		default:
			// A value such as docker.io is no field; usr.name, one step
			// from the field user.name, is a typo of one.
			if c := ev.cat.nearClass(class); c != "" {
				if known, _ := ev.cat.Check(c + "." + rest); known {
					ok, sugg = false, "%"+c+"."+rest
				}
			}
		}
		if ok {
			continue
		}
		detail := ""
		if sugg != "" {
			detail = fmt.Sprintf("Did you mean %s? ", strings.TrimPrefix(sugg, "%"))
		}
		detail += fmt.Sprintf("The field catalogue of Falco %s (policy/fields/%s) has no field %s, and Falco would refuse the condition.", ev.cat.Version, ev.cat.Source, tok.name)
		ev.diags = append(ev.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown Falco field " + tok.name,
			Detail:   detail,
			Subject:  ev.subRange(rng, s, tok.start, tok.end).Ptr(),
		})
	}
}

// conditionFields finds the words of a condition that have a field's
// shape, `class.name` or `class.name[arg]`: quoted strings are skipped, and
// a word is read whole up to white space or an operator character, so that
// a path (/usr/bin/sh) or an image (docker.io/nginx) is not taken for one.
// Macro and list names have no dot.
func conditionFields(s string) []outputToken {
	var out []outputToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
			continue
		case strings.IndexByte(" \t\n\r()=<>!,", c) >= 0:
			i++
			continue
		}
		j := i
		for j < len(s) && strings.IndexByte(" \t\n\r()=<>!,\"'", s[j]) < 0 {
			j++
		}
		if name, ok := fieldShape(s[i:j]); ok {
			out = append(out, outputToken{name: name, start: i, end: j})
		}
		i = j
	}
	return out
}

// fieldShape tells whether a word reads as a field: lower-case letters,
// digits and `_` in dotted parts, the first a letter, then an optional
// `[arg]`. It returns the name without the argument.
func fieldShape(w string) (string, bool) {
	name := w
	if k := strings.IndexByte(w, '['); k >= 0 {
		if !strings.HasSuffix(w, "]") {
			return "", false
		}
		name = w[:k]
	}
	if name == "" || !(name[0] >= 'a' && name[0] <= 'z') || !strings.Contains(name, ".") || strings.HasSuffix(name, ".") {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if !isFieldChar(name[i]) {
			return "", false
		}
	}
	return name, true
}

// hasClass tells whether the catalogue has fields of a class (`proc` for
// proc.name).
func (f *Fields) hasClass(class string) bool {
	_, sorted := f.table()
	i, _ := slices.BinarySearch(sorted, class+".")
	return i < len(sorted) && strings.HasPrefix(sorted[i], class+".")
}

// nearClass is the class one edit away from class (usr for user), "" when
// there is none or class is too short to tell.
func (f *Fields) nearClass(class string) string {
	if len(class) < 3 {
		return ""
	}
	_, sorted := f.table()
	for _, n := range sorted {
		c, _, _ := strings.Cut(n, ".")
		if c != class && levenshtein.Distance(class, c, nil) == 1 {
			return c
		}
	}
	return ""
}

// conditionOnly tells whether Falco accepts a field in conditions that its
// field list leaves out: 0.41 and later no longer list evt.dir, yet 0.44.1
// still reads `evt.dir=<`, with a warning (seen with the real build).
func (f *Fields) conditionOnly(name string) bool {
	return name == "evt.dir"
}
