package policy

import (
	"fmt"
	"path"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// priorities are Falco's rule priorities; Falco reads them in any case.
var priorities = []string{"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFORMATIONAL", "INFO", "DEBUG"}

var strategies = []string{string(InPlace), string(Override), string(Auto)}

func (ev *evaluator) fail(rng hcl.Range, summary, detail string) {
	ev.diags = append(ev.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr(),
	})
}

func (ev *evaluator) checkPath(name, s string, rng hcl.Range) {
	if !path.IsAbs(s) {
		ev.fail(rng, "Relative path", fmt.Sprintf(
			"%s must be an absolute path as Falco sees it on the node (%q is not); rulekeeper itself prefixes --root.", name, s))
	}
}

func (ev *evaluator) checkStrategy(attr *hcl.Attribute, s string) {
	for _, ok := range strategies {
		if s == ok {
			return
		}
	}
	ev.fail(attr.Expr.Range(), fmt.Sprintf("Unknown strategy %q", s), fmt.Sprintf(
		"%sThe strategy is one of %s.", didYouMean(s, strategies, `"%s"`), quoteList(strategies)))
}

func (ev *evaluator) checkVersion(attr *hcl.Attribute, s string) bool {
	if _, ok := parseVersion(s); ok {
		return true
	}
	ev.fail(attr.Expr.Range(), fmt.Sprintf("Invalid Falco version %q", s),
		"falco_version is a Falco release as `falco --version` prints it, MAJOR.MINOR.PATCH such as \"0.32.1\".")
	return false
}

func (ev *evaluator) checkPriority(attr *hcl.Attribute, s string) {
	up := strings.ToUpper(s)
	for _, ok := range priorities {
		if up == ok {
			return
		}
	}
	ev.fail(attr.Expr.Range(), fmt.Sprintf("Unknown priority %q", s), fmt.Sprintf(
		"%sFalco's priorities are %s, in any case.", didYouMean(up, priorities, `"%s"`), strings.Join(priorities, ", ")))
}

// output evaluates an output block and checks that its parts make one
// consistent edit.
func (ev *evaluator) output(ob *outputBlock) *Output {
	a := ob.attrs
	out := &Output{}
	if len(a) == 0 {
		if ob.broken {
			return out
		}
		ev.fail(ob.defRange, "Empty output block",
			"Set prefix, include, exclude or replace, or remove the output block.")
		return out
	}
	if ra := a["replace"]; ra != nil {
		for _, other := range []string{"prefix", "include", "exclude"} {
			if oa := a[other]; oa != nil {
				ev.fail(oa.NameRange, fmt.Sprintf("Conflicting output settings: replace and %s", other), fmt.Sprintf(
					"replace gives the whole new output (at %s), so %s cannot change it too. Remove %s, or describe the change without replace.",
					pos(ra.NameRange), other, other))
			}
		}
		if s, ok := ev.str(ra); ok {
			if strings.TrimSpace(s) == "" {
				ev.fail(ra.Expr.Range(), "Empty replace", "A Falco rule needs an output text; give the whole new text, or remove replace.")
			}
			ev.checkText(s, ra.Expr.Range())
			ev.checkFields(s, ra.Expr.Range())
			out.Replace = &s
		}
	}
	if s, ok := ev.str(a["prefix"]); ok {
		ev.checkText(s, a["prefix"].Expr.Range())
		ev.checkFields(s, a["prefix"].Expr.Range())
		out.Prefix = s
	}
	include := ev.tokens(a["include"], "include")
	exclude := ev.tokens(a["exclude"], "exclude")
	for _, it := range include {
		ev.checkText(it.val, it.rng)
		ev.checkFields(it.val, it.rng)
		out.Include = append(out.Include, it.val)
	}
	prefixTokens := strings.Fields(out.Prefix)
	for _, it := range exclude {
		ev.checkText(it.val, it.rng)
		out.Exclude = append(out.Exclude, it.val)
		if strings.ContainsAny(it.val, " \t\n") {
			ev.fail(it.rng, "Exclude token with whitespace", fmt.Sprintf(
				"exclude removes whitespace-separated tokens of the output, so %q can never match. List its words one by one.", it.val))
		}
		for _, in := range include {
			if in.val == it.val {
				ev.fail(it.rng, fmt.Sprintf("Token both included and excluded: %q", it.val), fmt.Sprintf(
					"%q is also in include at %s. Keep it in one of the two lists.", it.val, pos(in.rng)))
			}
		}
		for _, pt := range prefixTokens {
			if pt == it.val {
				ev.fail(it.rng, fmt.Sprintf("Excluded token is in the prefix: %q", it.val), fmt.Sprintf(
					"The prefix (at %s) adds %q back. Remove it from the prefix or from exclude.", pos(a["prefix"].NameRange), it.val))
			}
		}
	}
	if out.Replace == nil && out.Prefix == "" && len(out.Include) == 0 && len(out.Exclude) == 0 && ev.allKnown(a) {
		ev.fail(ob.defRange, "Empty output block",
			"Every setting of this output is empty, so it changes nothing. Give a prefix, include, exclude or replace, or remove the block.")
	}
	return out
}

// tokens evaluates an include/exclude list: no empty strings, no duplicates.
func (ev *evaluator) tokens(attr *hcl.Attribute, name string) []item {
	var out []item
	first := map[string]hcl.Range{}
	for _, it := range ev.strList(attr) {
		switch r, dup := first[it.val]; {
		case strings.TrimSpace(it.val) == "":
			ev.fail(it.rng, fmt.Sprintf("Empty %s token", name), fmt.Sprintf("Each element of %s is a piece of output text; remove the empty one.", name))
		case dup:
			ev.fail(it.rng, fmt.Sprintf("Duplicate %s token %q", name, it.val), fmt.Sprintf("It is already listed at %s; remove one.", pos(r)))
		default:
			first[it.val] = it.rng
			out = append(out, it)
		}
	}
	return out
}

// allKnown tells whether every attribute evaluates to a wholly known value,
// so that an empty result really is empty and not just unknown here.
func (ev *evaluator) allKnown(attrs hcl.Attributes) bool {
	for _, a := range attrs {
		v, d := a.Expr.Value(ev.ctx)
		if d.HasErrors() || !v.IsWhollyKnown() {
			return false
		}
	}
	return true
}

// checkText refuses control characters in an output text: Falco prints
// its outputs as text lines, and a NUL would cut Falco's copy of the text
// short. Tabs and line breaks are fine (rulekeeper writes such a text
// double-quoted where the rules file's style cannot hold it).
func (ev *evaluator) checkText(s string, rng hcl.Range) {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			ev.fail(rng, "Control character in output text", fmt.Sprintf(
				"The text holds the control character %U. Falco prints outputs as lines of text; remove it (tabs and line breaks are allowed).", r))
			return
		}
	}
}

// checkFields reports every `%field` of an output text that the catalogue
// does not know. Falco 0.32.1 reads `%user.uidd` as `%user.uid` and "d", so
// without this check such a typo goes live unnoticed.
func (ev *evaluator) checkFields(s string, rng hcl.Range) {
	for _, tok := range outputTokens(s) {
		ok, sugg := ev.cat.Check(tok.name)
		if ok {
			continue
		}
		detail := ""
		if sugg != "" {
			detail = fmt.Sprintf("Did you mean %s? ", sugg)
		}
		detail += fmt.Sprintf("The field catalogue of Falco %s (policy/fields/%s) has no field %s.", ev.cat.Version, ev.cat.Source, tok.name)
		if r := ev.cat.falcoReads(tok.name); r != "" {
			detail += fmt.Sprintf(" Falco would print %%%s followed by the text %q, without any error.", r, tok.name[len(r):])
		}
		ev.diags = append(ev.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown Falco field %" + tok.name,
			Detail:   detail,
			Subject:  ev.subRange(rng, s, tok.start, tok.end).Ptr(),
		})
	}
}

// subRange narrows rng, the range of a quoted string literal whose value is
// s, to the bytes [start,end) of s. When the source is not exactly that
// literal (escapes, templates, other expressions) it keeps rng.
func (ev *evaluator) subRange(rng hcl.Range, s string, start, end int) hcl.Range {
	f := ev.p.files[rng.Filename]
	if f == nil || rng.Start.Line != rng.End.Line || rng.End.Byte > len(f.Bytes) {
		return rng
	}
	src := string(f.Bytes[rng.Start.Byte:rng.End.Byte])
	if src != `"`+s+`"` {
		return rng
	}
	at := func(off int) hcl.Pos {
		return hcl.Pos{
			Line:   rng.Start.Line,
			Column: rng.Start.Column + 1 + len([]rune(s[:off])),
			Byte:   rng.Start.Byte + 1 + off,
		}
	}
	return hcl.Range{Filename: rng.Filename, Start: at(start), End: at(end)}
}

// didYouMean suggests the candidate closest to s, formatted with format, or
// returns "" when none is close enough to be a typo.
func didYouMean(s string, candidates []string, format string) string {
	best, bestDist := "", len(s)/3+2
	for _, c := range candidates {
		if d := levenshtein.Distance(s, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return "Did you mean " + fmt.Sprintf(format, best) + "? "
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
