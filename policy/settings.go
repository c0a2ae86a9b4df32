package policy

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Settings is the policy's `falco_settings` block: Falco's own settings
// that decide what its alerts look like. A nil field is not managed.
type Settings struct {
	// JSONOutput is falco.yaml's json_output: alerts as JSON objects.
	JSONOutput *bool `json:",omitempty"`
	// Priority is falco.yaml's priority: the least severe rule priority
	// Falco loads and alerts on.
	Priority *string `json:",omitempty"`
	// AppendOutput lists texts Falco 0.39+ adds to every rule's output
	// (append_output entries with extra_output), after the node's own.
	AppendOutput []string `json:",omitempty"`
	Pos          string
}

// AppendOutputSince is the first Falco version with append_output.
const AppendOutputSince = "0.39.0"

var settingsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "json_output"}, {Name: "priority"}, {Name: "append_output"}},
}

type settingsBlock struct {
	defRange hcl.Range
	attrs    hcl.Attributes
	broken   bool
}

func (p *Policy) addSettings(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(settingsSchema)
	if p.settings != nil {
		return append(diags, secondBlock("falco_settings block", "A falco_settings block is already defined", "policy", p.settings.defRange, b.DefRange))
	}
	p.settings = &settingsBlock{defRange: b.DefRange, attrs: content.Attributes, broken: diags.HasErrors()}
	if len(content.Attributes) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "falco_settings block manages nothing",
			Detail:   "This block sets none of json_output, priority or append_output, so Falco's settings stay as the node has them. Add what to change, or remove the block.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	return diags
}

// settings evaluates the falco_settings block; version is the node's
// Falco version ("" when unknown), against which append_output is checked.
func (ev *evaluator) settings(version string) *Settings {
	sb := ev.p.settings
	if sb == nil {
		return nil
	}
	s := &Settings{Pos: blockPos(sb.defRange)}
	a := sb.attrs
	if v := ev.value(a["json_output"], cty.Bool); v.IsKnown() && !v.IsNull() {
		b := v.True()
		s.JSONOutput = &b
	}
	if pr, ok := ev.str(a["priority"]); ok {
		ev.checkPriority(a["priority"], pr)
		s.Priority = &pr
	}
	if aa := a["append_output"]; aa != nil {
		for _, it := range ev.tokens(aa, "append_output") {
			ev.checkText(it.val, it.rng)
			ev.checkFields(it.val, it.rng)
			s.AppendOutput = append(s.AppendOutput, it.val)
		}
		if v, ok := parseVersion(version); ok && v.less(mustVersion(AppendOutputSince)) {
			ev.fail(aa.NameRange, fmt.Sprintf("Falco %s has no append_output", version), fmt.Sprintf(
				"append_output exists from Falco %s; this node's Falco (%s) would ignore it without a word. Remove it here, or add the text to the rules' outputs with rule blocks (output { include = [...] }).",
				AppendOutputSince, version))
		}
	}
	return s
}

func mustVersion(s string) version {
	v, ok := parseVersion(s)
	if !ok {
		panic("bad version " + s)
	}
	return v
}
