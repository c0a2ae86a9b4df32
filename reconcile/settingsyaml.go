package reconcile

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// settingsInPlace edits falco.yaml's values for the settings s asks (nil:
// none) and puts back the vendor's bytes of those rulekeeper set before and
// s no longer asks, as for a rules file: only the value changes, in its own
// style; drift is put back; a falco.yaml that carries none of rulekeeper's
// values and differs elsewhere is a new vendor file.
func (p *Plan) settingsInPlace(s *policy.Settings, st, next *State) error {
	cfg := p.conf.config
	prev := st.Files[cfg]
	if prev != nil && !prev.Settings {
		prev = nil
	}
	want := scalarSettings(s)
	if len(want) == 0 && prev == nil {
		return nil
	}
	var keys []string
	for _, kv := range want {
		keys = append(keys, kv[0])
	}
	for _, g := range p.conf.files { // merged after falco.yaml: their values win
		if set := laterSets(p.cur[g], keys); len(set) > 0 {
			return fmt.Errorf("%s: %s block: %s, which Falco merges after %s, sets %s: its value would win; remove the setting from %s", s.Pos, settingsBlock, g, cfg, joinKeys(set), g)
		}
	}
	data := p.conf.data
	if data == nil {
		if len(want) == 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%s is gone: its managed settings are forgotten", cfg))
			return nil
		}
		return fmt.Errorf("%s: %s block: %s does not exist: rulekeeper changes the settings of the node's falco.yaml; name it with config in the falco block", s.Pos, settingsBlock, cfg)
	}
	out, fst, changes, err := editConfig(data, want, prev)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg, err)
	}
	if fst != nil {
		next.Files[cfg] = fst
	}
	if !slices.Equal(out, data) {
		p.Files = append(p.Files, &FileChange{Path: cfg, Action: Update, Changes: changes, Old: data, New: out})
	}
	return nil
}

// configMapping parses falco.yaml's first document (the one Falco reads)
// and returns its top-level mapping.
func configMapping(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode || len(doc.Content[0].Content) == 0 {
		return nil, errors.New("not a mapping of settings: Falco could not read it either")
	}
	return doc.Content[0], nil
}

// editConfig computes falco.yaml with the wanted values, from the vendor's
// values kept in prev.
func editConfig(data []byte, want [][2]string, prev *FileState) ([]byte, *FileState, []Change, error) {
	m, err := configMapping(data)
	if err != nil {
		return nil, nil, nil, err
	}
	var olds []found
	var spans [][2]int
	carries, informative := false, false
	if prev != nil {
		for _, v := range prev.Values {
			reg, err := locateManaged(data, m, v.Field, v.Absent)
			if err != nil {
				return nil, nil, nil, err
			}
			f := found{Value: v, reg: reg, at: true, ok: !(v.Absent && reg.absent), cur: string(data[reg.start:reg.end])}
			spans = append(spans, [2]int{reg.start, reg.end})
			if v.Original != v.Written {
				informative = true
				carries = carries || (f.ok && f.cur == v.Written)
			}
			olds = append(olds, f)
		}
		slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	}
	upgrade := prev != nil && sumOutside(data, spans) != prev.Outside && (!carries || !informative)
	var restore []edit
	var drifted []string
	if !upgrade {
		restore, drifted = restoreEdits(olds, 0)
	}
	vendor, _ := splice(string(data), restore)
	vm := m
	if len(restore) > 0 {
		if vm, err = configMapping([]byte(vendor)); err != nil {
			return nil, nil, nil, fmt.Errorf("with the vendor's values put back: %w", err)
		}
	}
	var edits []edit
	var vspans [][2]int
	var values []Value
	wanted := map[string]string{}
	for _, kv := range want {
		key, v := kv[0], kv[1]
		reg, err := locate([]byte(vendor), vm, key)
		if err != nil {
			return nil, nil, nil, err
		}
		raw, txt, err := simpleValue(vendor, v, true, key == "json_output")(reg)
		if err != nil {
			return nil, nil, nil, err
		}
		if reg.absent {
			raw = "\n" + key + ": " + raw
		}
		edits = append(edits, edit{reg.start, reg.end, raw})
		vspans = append(vspans, [2]int{reg.start, reg.end})
		wanted[key] = txt
		values = append(values, Value{Kind: settingsKind, Rule: settingsBlock, Field: key, Original: vendor[reg.start:reg.end], Absent: reg.absent, Written: raw})
	}
	next, nspans := splice(vendor, edits)
	slices.SortFunc(vspans, func(a, b [2]int) int { return a[0] - b[0] })
	before, after, err := checkConfig(vendor, vspans, next, nspans, wanted)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("refusing to write: %w", err)
	}
	if string(data) != vendor { // drift put back: what Falco reads now is not the vendor's
		var now map[string]any
		if unmarshal(data, &now) == nil {
			before = now
		}
	}
	changes := settingsChanges(before, after, func(k string) string {
		switch {
		case slices.Contains(drifted, k):
			return ReasonDrift
		case upgrade:
			return ReasonUpgrade
		case wanted[k] == "":
			return ReasonRestore
		}
		return ReasonPolicy
	})
	out := []byte(next)
	if len(values) == 0 {
		return out, nil, changes, nil
	}
	fst := &FileState{Settings: true, Values: values}
	fst.SHA256, fst.Outside = sums(out, nspans)
	return out, fst, changes, nil
}

// checkConfig is checkItem for falco.yaml: every byte outside the edited
// values is the vendor's, the edited settings read as wanted (a bool as a
// bool) and every other setting reads as before.
func checkConfig(vendor string, vspans [][2]int, next string, nspans [][2]int, want map[string]string) (map[string]any, map[string]any, error) {
	if outside(vendor, vspans) != outside(next, nspans) {
		return nil, nil, errors.New("the edit would change bytes outside the managed values")
	}
	var before, after map[string]any
	if err := unmarshal([]byte(vendor), &before); err != nil {
		return nil, nil, fmt.Errorf("it does not parse before the edit: %w", yamlError(err))
	}
	if err := unmarshal([]byte(next), &after); err != nil {
		return nil, nil, fmt.Errorf("the edited file is not valid YAML: %w", yamlError(err))
	}
	for k, v := range want {
		got := after[k]
		if _, isBool := got.(bool); k == "json_output" && !isBool {
			return nil, nil, fmt.Errorf("after the edit json_output reads %#v, not a bool", got)
		}
		if !strings.EqualFold(fmt.Sprint(got), v) { // Falco reads both in any case
			return nil, nil, fmt.Errorf("after the edit %s reads %q, not %q", k, fmt.Sprint(got), v)
		}
	}
	for k, v := range before {
		if _, edited := want[k]; !edited && !reflect.DeepEqual(after[k], v) {
			return nil, nil, fmt.Errorf("the edit would change %s", k)
		}
	}
	for k := range after {
		if _, edited := want[k]; !edited {
			if _, ok := before[k]; !ok {
				return nil, nil, fmt.Errorf("the edit would add %s", k)
			}
		}
	}
	return before, after, nil
}
