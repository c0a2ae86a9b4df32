package policy

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// namedBlock is a block with one label naming what it manages: a Falco
// list (`list "NAME"`) or a rules file on the node (`file "PATH"`). The
// later kinds (`macro "NAME"`) take the same shape.
type namedBlock struct {
	kind, name           string
	defRange, labelRange hcl.Range
	attrs                hcl.Attributes
	blocks               hcl.Blocks
	broken               bool         // the body has errors already reported
	cond                 *outputBlock // a macro's condition block
}

var listSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "when"}, {Name: "add"}, {Name: "remove"}, {Name: "items"}},
}

var fileSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "when"}, {Name: "source", Required: true}},
}

// addNamed decodes a labelled block and refuses an empty or repeated label.
func addNamed(b *hcl.Block, schema *hcl.BodySchema, kind string, seen map[string]*namedBlock) (*namedBlock, hcl.Diagnostics) {
	content, diags := b.Body.Content(schema)
	nb := &namedBlock{kind: kind, name: b.Labels[0], defRange: b.DefRange, labelRange: b.LabelRanges[0],
		attrs: content.Attributes, blocks: content.Blocks, broken: diags.HasErrors()}
	what := map[string]string{
		"list":  "the name of the Falco list to change, as its rules file writes it (`- list: NAME`)",
		"file":  "the path on the node where Falco loads the file, such as \"/etc/falco/rules.d/60-team.yaml\"",
		"macro": "the name of the Falco macro to change, as its rules file writes it (`- macro: NAME`)",
	}[kind]
	switch first := seen[nb.name]; {
	case strings.TrimSpace(nb.name) == "":
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Empty %s label", kind),
			Detail:   fmt.Sprintf("The label of a %s block is %s.", kind, what),
			Subject:  nb.labelRange.Ptr(),
		})
	case first != nil:
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Duplicate %s block", kind),
			Detail: fmt.Sprintf("The %s %q is also declared at %s. Declare each once; merge the two blocks.",
				kind, nb.name, pos(first.defRange)),
			Subject: nb.labelRange.Ptr(),
		})
	}
	seen[nb.name] = nb
	return nb, diags
}

// when tells whether a block applies to the node: its `when` is not false.
func (ev *evaluator) when(attrs hcl.Attributes) bool {
	v := ev.value(attrs["when"], cty.Bool)
	return !(v.IsKnown() && !v.IsNull() && v.False())
}

func blockPos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", baseName(r.Filename), r.Start.Line, r.Start.Column)
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// list evaluates a list block: add and remove, or items alone. A rule's
// tags block (kind "tags") has the same shape.
func (ev *evaluator) list(nb *namedBlock) (List, bool) {
	l := List{Name: nb.name, Pos: blockPos(nb.defRange)}
	if !ev.when(nb.attrs) {
		return l, false
	}
	a := nb.attrs
	if ia := a["items"]; ia != nil {
		for _, other := range []string{"add", "remove"} {
			if oa := a[other]; oa != nil {
				ev.fail(oa.NameRange, fmt.Sprintf("Conflicting %s settings: items and %s", nb.kind, other), fmt.Sprintf(
					"items gives the whole new %s (at %s), so %s cannot change it too. Remove %s, or describe the change with add and remove.",
					what(nb.kind), pos(ia.NameRange), other, other))
			}
		}
		l.Replace = true
		l.Items = []string{} // an empty list is a list
		for _, it := range ev.listItems(ia, nb.kind) {
			l.Items = append(l.Items, it.val)
		}
		return l, true
	}
	add, remove := ev.listItems(a["add"], nb.kind), ev.listItems(a["remove"], nb.kind)
	for _, r := range remove {
		for _, ad := range add {
			if ad.val == r.val {
				ev.fail(r.rng, fmt.Sprintf("Item both added and removed: %q", r.val), fmt.Sprintf(
					"%q is also in add at %s. Keep it in one of the two lists.", r.val, pos(ad.rng)))
			}
		}
		l.Remove = append(l.Remove, r.val)
	}
	for _, ad := range add {
		l.Add = append(l.Add, ad.val)
	}
	if len(a) == 0 && !nb.broken {
		ev.diags = append(ev.diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  fmt.Sprintf("%s block manages nothing", strings.ToUpper(nb.kind[:1])+nb.kind[1:]),
			Detail:   fmt.Sprintf("This block sets none of add, remove or items, so the %s stays as its vendor wrote it. Add what to change, or remove the block.", what(nb.kind)),
			Subject:  nb.defRange.Ptr(),
		})
	}
	return l, true
}

// what names what a list-shaped block changes.
func what(kind string) string {
	if kind == "tags" {
		return "tag list"
	}
	return "list"
}

// listItems evaluates a list of Falco list items (or of a rule's tags):
// each a non-empty word Falco can compare (`proc.name in (a, b)`), no
// duplicates.
func (ev *evaluator) listItems(attr *hcl.Attribute, kind string) []item {
	example, noun := `an item of the Falco list, such as "/usr/bin/fish"`, "A Falco list item"
	if kind == "tags" {
		example, noun = `a tag of the rule, such as "mitre_execution"`, "A tag"
	}
	var out []item
	first := map[string]hcl.Range{}
	for _, it := range ev.strList(attr) {
		switch r, dup := first[it.val]; {
		case strings.TrimSpace(it.val) == "":
			ev.fail(it.rng, fmt.Sprintf("Empty %s item", attr.Name), "Each element is "+example+"; remove the empty one.")
		case strings.ContainsAny(it.val, "\n\r\x00"):
			ev.fail(it.rng, fmt.Sprintf("Line break in %s item", attr.Name), noun+" is one value on one line; split it into items.")
		case dup:
			ev.fail(it.rng, fmt.Sprintf("Duplicate %s item %q", attr.Name, it.val), fmt.Sprintf("It is already listed at %s; remove one.", pos(r)))
		default:
			first[it.val] = it.rng
			out = append(out, it)
		}
	}
	return out
}
