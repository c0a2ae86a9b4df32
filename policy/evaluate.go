package policy

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Evaluate computes what the policy asks of node n and checks every value.
// With an UnknownNode the result leaves out what depends on unknown facts
// and only its diagnostics are meant to be used.
func (p *Policy) Evaluate(n Node) (Desired, hcl.Diagnostics) {
	ev := &evaluator{p: p, ctx: n.evalContext()}
	d := Desired{Falco: ev.falco()}
	catVersion := n.FalcoVersion
	if catVersion == "" {
		catVersion = d.Falco.Version
	}
	ev.cat = Catalogue(catVersion)
	ev.falcoVersion = catVersion
	for _, rb := range p.rules {
		if r, keep := ev.rule(rb); keep {
			d.Rules = append(d.Rules, r)
		}
	}
	for _, nb := range p.lists {
		if l, keep := ev.list(nb); keep {
			d.Lists = append(d.Lists, l)
		}
	}
	for _, nb := range p.macros {
		if m, keep := ev.macro(nb); keep {
			d.Macros = append(d.Macros, m)
		}
	}
	for _, nb := range p.rfiles {
		if f, keep := ev.file(nb); keep {
			d.Files = append(d.Files, f)
		}
	}
	d.Settings = ev.settings(catVersion)
	r, rdiags := p.Rollout()
	d.Rollout = r
	return d, append(ev.diags, rdiags...)
}

type evaluator struct {
	p     *Policy
	ctx   *hcl.EvalContext
	cat   *Fields
	diags hcl.Diagnostics
	// falcoVersion is the node's Falco version ("" when unknown), for
	// what differs between versions beyond the field catalogue.
	falcoVersion string
}

func (ev *evaluator) falco() Falco {
	// Config stays empty when the policy does not name one: the node's own
	// (the agent's config says where it is) then applies, else DefaultConfig.
	f := Falco{Strategy: Auto, OverrideFile: DefaultOverrideFile}
	if ev.p.falco == nil {
		return f
	}
	attrs := ev.p.falco.attrs
	if s, ok := ev.str(attrs["config"]); ok {
		ev.checkPath("config", s, attrs["config"].Expr.Range())
		f.Config = s
	}
	for _, it := range ev.strList(attrs["rules_files"]) {
		ev.checkPath("rules_files", it.val, it.rng)
		f.RulesFiles = append(f.RulesFiles, it.val)
	}
	if s, ok := ev.str(attrs["strategy"]); ok {
		f.Strategy = Strategy(s)
		ev.checkStrategy(attrs["strategy"], s)
	}
	if s, ok := ev.str(attrs["override_file"]); ok {
		ev.checkPath("override_file", s, attrs["override_file"].Expr.Range())
		f.OverrideFile = s
	}
	if s, ok := ev.str(attrs["falco_version"]); ok {
		if ev.checkVersion(attrs["falco_version"], s) {
			f.Version = s
		}
	}
	return f
}

func (ev *evaluator) rule(rb *ruleBlock) (Rule, bool) {
	r := Rule{Name: rb.name, Pos: fmt.Sprintf("%s:%d,%d", filepath.Base(rb.defRange.Filename),
		rb.defRange.Start.Line, rb.defRange.Start.Column)}
	if v := ev.value(rb.attrs["when"], cty.Bool); v.IsKnown() && !v.IsNull() && v.False() {
		return r, false
	}
	if s, ok := ev.str(rb.attrs["priority"]); ok {
		ev.checkPriority(rb.attrs["priority"], s)
		r.Priority = &s
	}
	if v := ev.value(rb.attrs["enabled"], cty.Bool); v.IsKnown() && !v.IsNull() {
		b := v.True()
		r.Enabled = &b
	}
	if rb.output != nil {
		r.Output = ev.output(rb.output)
	}
	ev.ruleTuning(rb, &r)
	for _, nb := range rb.exceptions {
		if e, keep := ev.exception(nb); keep {
			r.Exceptions = append(r.Exceptions, e)
		}
	}
	return r, true
}

// value evaluates attr (nil when not set) and converts it to ty. It returns
// a null value when the attribute is absent, null or wrong, and an unknown
// one when it depends on unknown facts.
func (ev *evaluator) value(attr *hcl.Attribute, ty cty.Type) cty.Value {
	if attr == nil {
		return cty.NullVal(ty)
	}
	v, diags := attr.Expr.Value(ev.ctx)
	ev.diags = append(ev.diags, diags...)
	if diags.HasErrors() {
		return cty.NullVal(ty)
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		ev.diags = append(ev.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", attr.Name, err),
			Subject:     attr.Expr.Range().Ptr(),
			Expression:  attr.Expr,
			EvalContext: ev.ctx,
		})
		return cty.NullVal(ty)
	}
	return cv
}

// str evaluates a string attribute; ok is false when it is absent, null or unknown.
func (ev *evaluator) str(attr *hcl.Attribute) (string, bool) {
	v := ev.value(attr, cty.String)
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	return v.AsString(), true
}

// item is a known element of a list attribute with the best source range
// for it: the element's own expression when the list is written out.
type item struct {
	val string
	rng hcl.Range
}

func (ev *evaluator) strList(attr *hcl.Attribute) []item {
	v := ev.value(attr, cty.List(cty.String))
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	vals := v.AsValueSlice()
	exprs, d := hcl.ExprList(attr.Expr)
	if d.HasErrors() || len(exprs) != len(vals) {
		exprs = nil
	}
	var out []item
	for i, ev2 := range vals {
		rng := attr.Expr.Range()
		if exprs != nil {
			rng = exprs[i].Range()
		}
		switch {
		case !ev2.IsKnown():
			continue
		case ev2.IsNull():
			ev.diags = append(ev.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Null list element",
				Detail:   fmt.Sprintf("Element %d of %q is null. Give a string or leave the element out.", i, attr.Name),
				Subject:  rng.Ptr(),
			})
			continue
		}
		out = append(out, item{val: ev2.AsString(), rng: rng})
	}
	return out
}
