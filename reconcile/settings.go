package reconcile

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Falco's own settings (the policy's falco_settings block) go where the
// node's Falco merges a config file of rulekeeper's (config.d, Falco 0.38+),
// else into falco.yaml itself, value by value, as the rules files' values.

// Versions where Falco's config handling changed.
const (
	configFilesSince = "0.38.0" // config_files: config.d drop-ins
	mergeAppendSince = "0.41.0" // merge strategies; before, a drop-in's list replaced falco.yaml's
)

// settingsKind names settings in state values and plan changes.
const settingsKind = "setting"

// settingsBlock is how plans and state name the policy's block.
const settingsBlock = "falco_settings"

// readSettingsInputs reads falco.yaml and the config files Falco merges into
// it, where the policy manages settings or did before: they are inputs of
// the pass (their hashes decide whether anything changed) and files the
// agent watches. Without settings, nothing more is read.
func (p *Plan) readSettingsInputs(d policy.Desired, st *State, cfg string) error {
	managed := d.Settings != nil
	for _, fst := range st.Files {
		managed = managed || fst.Settings
	}
	if !managed {
		return nil
	}
	cl, err := readConfLayout(p.opts.Root, cfg)
	if err != nil {
		return err
	}
	p.conf = cl
	if cl.data != nil {
		p.cur[cfg] = cl.data
		p.confFiles = append(p.confFiles, cfg)
	}
	for _, f := range cl.files {
		data, err := ReadRulesFile(p.opts.Root, f)
		if err != nil {
			return fmt.Errorf("%s: %w", f, readHint(err))
		}
		p.cur[f] = data
		p.confFiles = append(p.confFiles, f)
	}
	slices.Sort(p.confFiles)
	return nil
}

// confFilesAfter lists the config files as the plan leaves them, sorted:
// the inputs the next pass hashes.
func (p *Plan) confFilesAfter() []string {
	out := slices.Clone(p.confFiles)
	for _, fc := range p.Files {
		if !p.isConfFile(fc.Path) {
			continue
		}
		switch i := slices.Index(out, fc.Path); {
		case fc.Action == Delete && i >= 0:
			out = slices.Delete(out, i, i+1)
		case fc.Action != Delete && i < 0:
			out = append(out, fc.Path)
		}
	}
	slices.Sort(out)
	return out
}

// isConfFile tells whether a node path is falco.yaml or in one of its
// config folders.
func (p *Plan) isConfFile(f string) bool {
	if p.conf == nil {
		return false
	}
	if f == p.conf.config {
		return true
	}
	for _, e := range p.conf.entries {
		if f == e.path || (e.folder && path.Dir(f) == e.path) {
			return true
		}
	}
	return false
}

// planSettings writes the policy's settings into the drop-in or into
// falco.yaml, and takes back what rulekeeper set before and the policy no
// longer asks (a removed block, or the other place after a Falco upgrade).
func (p *Plan) planSettings(d policy.Desired, st, next *State) error {
	if p.conf == nil {
		return nil
	}
	s := d.Settings
	folder := p.conf.dropInFolder()
	dropIn := folder != nil && (p.FalcoVersion == "" || versionAtLeast(p.FalcoVersion, configFilesSince))
	if s != nil {
		if err := p.settingsPossible(s, folder, dropIn); err != nil {
			return fmt.Errorf("%s: %s block: %w", s.Pos, settingsBlock, err)
		}
	}
	inPlace := s
	if dropIn {
		inPlace = nil
	}
	if err := p.settingsInPlace(inPlace, st, next); err != nil {
		return err
	}
	own := ""
	if dropIn && s != nil {
		own = path.Join(folder.path, dropInName)
		if err := p.planDropIn(s, folder, own, st, next); err != nil {
			return fmt.Errorf("%s: %s block: %w", s.Pos, settingsBlock, err)
		}
	}
	// A drop-in written before that the policy no longer asks for goes.
	for f, fst := range st.Files {
		if !fst.Settings || !fst.Owned || f == own {
			continue
		}
		if err := p.removeOwned(f, Change{Kind: settingsKind, Rule: settingsBlock, Field: "drop-in", Reason: ReasonRestore}); err != nil {
			return err
		}
	}
	return nil
}

// settingsPossible refuses what the node's Falco cannot do as asked.
func (p *Plan) settingsPossible(s *policy.Settings, folder *confEntry, dropIn bool) error {
	if len(s.AppendOutput) > 0 {
		switch {
		case p.FalcoVersion == "":
			return fmt.Errorf("append_output exists from Falco %s, and this node's Falco version is unknown: set falco_version in the falco block, or give rulekeeper the falco program", policy.AppendOutputSince)
		case !versionAtLeast(p.FalcoVersion, policy.AppendOutputSince):
			return fmt.Errorf("this node's Falco %s has no append_output (it exists from %s) and would ignore it without a word: remove it, or add the text to the rules' outputs with rule blocks", p.FalcoVersion, policy.AppendOutputSince)
		case !dropIn:
			return fmt.Errorf("rulekeeper writes append_output in a config folder Falco merges, and %s names none in config_files: add `config_files: [/etc/falco/config.d]` to it", p.conf.config)
		}
	}
	if dropIn && folder.strategy == mergeAddOnly {
		return fmt.Errorf("%s merges %s with strategy add-only, which ignores every setting falco.yaml has already: give that entry the strategy append (the default) or override", p.conf.config, folder.path)
	}
	return nil
}

// replaces tells whether Falco replaces, rather than extends, a list that
// a file of this config folder sets (every folder before 0.41).
func (p *Plan) replaces(folder *confEntry) bool {
	return folder.strategy == mergeReplace || !versionAtLeast(p.FalcoVersion, mergeAppendSince)
}

// scalarSettings are the settings written as one value, in file order.
func scalarSettings(s *policy.Settings) [][2]string {
	var out [][2]string
	if s == nil {
		return nil
	}
	if s.JSONOutput != nil {
		out = append(out, [2]string{"json_output", fmt.Sprint(*s.JSONOutput)})
	}
	if s.Priority != nil {
		out = append(out, [2]string{"priority", *s.Priority})
	}
	return out
}

// settingsChanges lists, as Falco reads them, the settings that differ
// between two configs.
func settingsChanges(before, after map[string]any, reason func(key string) string) []Change {
	var out []Change
	for _, k := range []string{"json_output", "priority", "append_output"} {
		ov, nv := valueText(before[k]), valueText(after[k])
		if ov != nv {
			out = append(out, Change{Kind: settingsKind, Rule: settingsBlock, Field: k, Old: ov, New: nv, Reason: reason(k)})
		}
	}
	return out
}

// laterSets lists the keys of keys that a config file sets.
func laterSets(data []byte, keys []string) []string {
	var m map[string]any
	if unmarshal(topLevelKeys(data, keys...), &m) != nil {
		return nil
	}
	var out []string
	for _, k := range keys {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

func joinKeys(keys []string) string { return strings.Join(keys, ", ") }
