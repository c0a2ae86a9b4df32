package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
)

// planDropIn writes the settings into own, a file of a config folder Falco
// merges into falco.yaml. Like the override file it is rulekeeper's alone:
// a file there that rulekeeper did not write is refused, never overwritten.
func (p *Plan) planDropIn(s *policy.Settings, folder *confEntry, own string, st, next *State) error {
	for _, g := range p.conf.after(own) {
		keys := []string{}
		for _, kv := range scalarSettings(s) {
			keys = append(keys, kv[0])
		}
		if len(s.AppendOutput) > 0 && p.replaces(folder) {
			keys = append(keys, "append_output")
		}
		if set := laterSets(p.cur[g], keys); len(set) > 0 {
			return fmt.Errorf("%s, which Falco merges after %s, sets %s: its value would win; remove the setting from %s", g, own, joinKeys(set), g)
		}
	}
	var inherited []any
	if len(s.AppendOutput) > 0 && p.replaces(folder) {
		inherited = p.inheritedAppendOutput(own)
	}
	out, err := dropInText(s, inherited)
	if err != nil {
		return err
	}
	next.Files[own] = &FileState{Owned: true, Settings: true, SHA256: sum(out)}

	cur, err := ReadRulesFile(p.opts.Root, own)
	exists := err == nil
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("%s: %w", own, readHint(err))
	}
	prev := st.Files[own]
	if exists && !bytes.HasPrefix(cur, []byte(ownHeader)) && (prev == nil || !prev.Owned) {
		return fmt.Errorf("%s exists and was not written by rulekeeper: move it away (Falco merges it into falco.yaml), or merge its settings into the policy", own)
	}
	if exists && bytes.Equal(cur, out) {
		return nil
	}
	act, reason := Create, ReasonPolicy
	if exists {
		act = Update
	}
	if prev != nil && prev.SHA256 == sum(out) {
		reason = ReasonDrift // the policy asks what was written: the file was changed or removed on the node
	}
	var before, after map[string]any
	if exists {
		_ = unmarshal(cur, &before) // a file that does not parse changes whole
	}
	if err := unmarshal(out, &after); err != nil {
		return fmt.Errorf("refusing to write: %w", yamlError(err))
	}
	changes := settingsChanges(before, after, func(string) string { return reason })
	p.Files = append(p.Files, &FileChange{Path: own, Action: act, Changes: changes, Old: cur, New: out})
	return nil
}

// inheritedAppendOutput is append_output as Falco has it before it merges
// own: falco.yaml's, or that of the last config file before own that sets
// it. A Falco that replaces lists on merge would otherwise drop them.
func (p *Plan) inheritedAppendOutput(own string) []any {
	var got []any
	for _, f := range append([]string{p.conf.config}, p.conf.before(own)...) {
		var c struct {
			AppendOutput *[]any `yaml:"append_output"`
		}
		if unmarshal(topLevelKeys(p.cur[f], "append_output"), &c) == nil && c.AppendOutput != nil {
			got = *c.AppendOutput
		}
	}
	return got
}

// dropInText is the drop-in's content, checked: it must read back as the
// settings asked.
func dropInText(s *policy.Settings, inherited []any) ([]byte, error) {
	var b strings.Builder
	b.WriteString(ownHeader)
	b.WriteString("# Falco's settings from the policy's falco_settings block; Falco merges this file into falco.yaml.\n")
	for _, kv := range scalarSettings(s) {
		v := kv[1]
		if kv[0] != "json_output" {
			v = doubleQuote(v)
		}
		b.WriteString(kv[0] + ": " + v + "\n")
	}
	if len(s.AppendOutput) > 0 {
		b.WriteString("append_output:\n")
		if len(inherited) > 0 {
			b.WriteString("  # falco.yaml's own entries first: this Falco replaces the list with this file's.\n")
		}
		for _, e := range inherited {
			j, err := json.Marshal(e) // JSON is YAML: one flow entry a line
			if err != nil {
				return nil, fmt.Errorf("falco.yaml's append_output entry %v: %w", e, err)
			}
			b.WriteString("  - " + string(j) + "\n")
		}
		for _, t := range s.AppendOutput {
			b.WriteString("  - extra_output: " + doubleQuote(t) + "\n")
		}
	}
	out := []byte(b.String())
	var back struct {
		JSONOutput   *bool   `yaml:"json_output"`
		Priority     *string `yaml:"priority"`
		AppendOutput []struct {
			ExtraOutput string `yaml:"extra_output"`
		} `yaml:"append_output"`
	}
	if err := unmarshal(out, &back); err != nil {
		return nil, fmt.Errorf("refusing to write: the drop-in would not parse: %w", yamlError(err))
	}
	var extra []string
	for _, e := range back.AppendOutput[min(len(inherited), len(back.AppendOutput)):] {
		extra = append(extra, e.ExtraOutput)
	}
	switch {
	case !equalPtr(back.JSONOutput, s.JSONOutput), !equalPtr(back.Priority, s.Priority),
		!slices.Equal(extra, s.AppendOutput), len(back.AppendOutput) != len(inherited)+len(s.AppendOutput):
		return nil, errors.New("refusing to write: the drop-in would not read back as the policy's settings")
	}
	return out, nil
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
