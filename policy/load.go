package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Policy is a parsed policy directory, not yet evaluated against a node.
type Policy struct {
	files   map[string]*hcl.File
	dir     string // the policy folder, where file blocks find their sources
	falco   *falcoBlock
	rules   []*ruleBlock
	lists   []*namedBlock
	rfiles  []*namedBlock
	macros  []*namedBlock
	rollout *rolloutBlock
	// settings is the falco_settings block (see settings.go).
	settings *settingsBlock
}

type falcoBlock struct {
	defRange hcl.Range
	attrs    hcl.Attributes
}

type ruleBlock struct {
	name                 string
	defRange, labelRange hcl.Range
	attrs                hcl.Attributes
	output               *outputBlock
	condition, tags      *outputBlock // see conditions.go
	exceptions           []*namedBlock
}

type outputBlock struct {
	defRange hcl.Range
	attrs    hcl.Attributes
	// broken is set when the block's body has errors already reported, so
	// that it is not also reported as empty.
	broken bool
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "falco"},
		{Type: "rule", LabelNames: []string{"name"}},
		{Type: "rollout"},
		{Type: "list", LabelNames: []string{"name"}},
		{Type: "file", LabelNames: []string{"path"}},
		{Type: "macro", LabelNames: []string{"name"}},
		{Type: "falco_settings"},
	},
}

var falcoSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "config"}, {Name: "rules_files"}, {Name: "strategy"},
		{Name: "override_file"}, {Name: "falco_version"},
	},
}

var ruleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "when"}, {Name: "priority"}, {Name: "enabled"}, {Name: "desc"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "output"}, {Type: "condition"}, {Type: "tags"}, {Type: "exception", LabelNames: []string{"name"}}},
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "prefix"}, {Name: "include"}, {Name: "exclude"}, {Name: "replace"},
	},
}

// Load reads every *.hcl file of dir (not its subdirectories) in name order
// as one policy, Terraform-style. It goes on past errors so that one run
// reports all of them; the returned Policy is never nil, so Files can feed
// the diagnostic writer even when diags has errors.
func Load(dir string) (*Policy, hcl.Diagnostics) {
	p := &Policy{files: map[string]*hcl.File{}, dir: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return p, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read policy directory",
			Detail:   fmt.Sprintf("%s. Give the directory that holds the policy's *.hcl files.", err),
		}}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") {
			names = append(names, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return p, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No policy files",
			Detail:   fmt.Sprintf("The directory %s has no *.hcl file. Give the directory that holds the policy.", dir),
		}}
	}

	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	seen := map[string]*ruleBlock{}
	seenList, seenFile, seenMacro := map[string]*namedBlock{}, map[string]*namedBlock{}, map[string]*namedBlock{}
	for _, name := range names {
		f, d := parser.ParseHCLFile(name)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		p.files[name] = f
		content, d := f.Body.Content(rootSchema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "falco":
				diags = append(diags, p.addFalco(b)...)
			case "rule":
				diags = append(diags, p.addRule(b, seen)...)
			case "rollout":
				diags = append(diags, p.addRollout(b)...)
			case "falco_settings":
				diags = append(diags, p.addSettings(b)...)
			case "list":
				nb, d := addNamed(b, listSchema, "list", seenList)
				diags = append(diags, d...)
				if nb != nil {
					p.lists = append(p.lists, nb)
				}
			case "file":
				nb, d := addNamed(b, fileSchema, "file", seenFile)
				diags = append(diags, d...)
				if nb != nil {
					p.rfiles = append(p.rfiles, nb)
				}
			case "macro":
				diags = append(diags, p.addMacro(b, seenMacro)...)
			}
		}
	}
	return p, diags
}

// secondBlock is the error for a second block of a kind its container
// holds once: it points at the second and names where the first is.
func secondBlock(kind, already, container string, first, second hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + kind,
		Detail:   fmt.Sprintf("%s at %s. A %s has at most one; merge the two.", already, pos(first), container),
		Subject:  second.Ptr(),
	}
}

// Files returns the parsed files by name, for WriteDiagnostics.
func (p *Policy) Files() map[string]*hcl.File { return p.files }

func (p *Policy) addFalco(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(falcoSchema)
	if p.falco != nil {
		return append(diags, secondBlock("falco block", "A falco block is already defined", "policy", p.falco.defRange, b.DefRange))
	}
	p.falco = &falcoBlock{defRange: b.DefRange, attrs: content.Attributes}
	return diags
}

func (p *Policy) addRule(b *hcl.Block, seen map[string]*ruleBlock) hcl.Diagnostics {
	content, diags := b.Body.Content(ruleSchema)
	r := &ruleBlock{name: b.Labels[0], defRange: b.DefRange, labelRange: b.LabelRanges[0], attrs: content.Attributes}
	for _, ob := range content.Blocks {
		if ob.Type == "exception" {
			diags = append(diags, addException(ob, r)...)
			continue
		}
		if ob.Type != "output" {
			diags = append(diags, r.addInner(ob)...)
			continue
		}
		oc, d := ob.Body.Content(outputSchema)
		diags = append(diags, d...)
		if r.output != nil {
			diags = append(diags, secondBlock("output block", "This rule already has an output block", "rule", r.output.defRange, ob.DefRange))
			continue
		}
		r.output = &outputBlock{defRange: ob.DefRange, attrs: oc.Attributes, broken: d.HasErrors()}
	}

	switch first := seen[r.name]; {
	case strings.TrimSpace(r.name) == "":
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty rule name",
			Detail:   "The label of a rule block is the name of the Falco rule to change, as its rule file writes it.",
			Subject:  r.labelRange.Ptr(),
		})
	case first != nil:
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate rule block",
			Detail: fmt.Sprintf("The rule %q is also defined at %s. Declare each rule once; merge the two blocks.",
				r.name, pos(first.defRange)),
			Subject: r.labelRange.Ptr(),
		})
	}
	seen[r.name] = r
	p.rules = append(p.rules, r)

	// A body with errors may have lost its settings to them: no second message.
	if r.output == nil && r.condition == nil && r.tags == nil && r.attrs["priority"] == nil && r.attrs["enabled"] == nil && r.attrs["desc"] == nil && len(r.exceptions) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Rule block manages nothing",
			Detail: "This block sets none of output, condition, tags, desc, priority or enabled, so the rule stays as its vendor wrote it. " +
				"Add what to change, or remove the block.",
			Subject: r.defRange.Ptr(),
		})
	}
	return diags
}

// pos renders a range's start as "file:line,column", the form messages use.
func pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}
