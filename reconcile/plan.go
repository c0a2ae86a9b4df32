// Package reconcile turns a policy's desired state into surgical, checked,
// atomic edits of Falco rule files. A Plan is a plain value: `plan` prints
// it, Apply executes exactly it, so the two cannot disagree.
package reconcile

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Options locate the node. Paths in plans and messages are node paths;
// Root maps them into a sandbox ("" is the real /).
type Options struct {
	Root     string
	StateDir string // node path; DefaultStateDir when empty
	// FalcoBinary is the falco program used for `falco -V` checks and its
	// version ("" when the node has none).
	FalcoBinary string
	// FalcoVersion is the version the binary reported ("" when unknown).
	FalcoVersion string
	// FalcoConfig is the node's falco.yaml (a node path) where the policy
	// names none (the agent's config says where it is); "" is Falco's
	// default, /etc/falco/falco.yaml.
	FalcoConfig string
	// Revision names what the desired state came from (a git commit), for
	// the state record.
	Revision string
}

// DefaultStateDir is where rulekeeper keeps originals and its lock.
const DefaultStateDir = "/var/lib/rulekeeper"

// StatePath is the state directory as seen from here (under Root).
func (o Options) StatePath() string {
	d := o.StateDir
	if d == "" {
		d = DefaultStateDir
	}
	return hostPath(o.Root, d)
}

// Action is what a plan does to a file.
type Action string

const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
)

// Reasons a value changes.
const (
	ReasonPolicy  = "policy"  // the policy asks for it
	ReasonDrift   = "drift"   // someone changed a managed value; put back
	ReasonRestore = "restore" // the policy no longer manages it: the vendor's value returns
	ReasonUpgrade = "upgrade" // a new vendor file: the policy is applied on top of it
)

// Plan is what a pass will do: every file it writes, with old and new bytes.
type Plan struct {
	Strategy     policy.Strategy `json:"strategy"`
	FalcoVersion string          `json:"falco_version,omitempty"`
	Files        []*FileChange   `json:"files"`
	Notes        []string        `json:"notes,omitempty"`

	opts  Options
	prev  *State // the state before the plan, for Rollback
	next  *State
	order []string          // every rules file Falco loads, in order, after the plan
	cur   map[string][]byte // their current contents

	folders []string          // the rules folders Falco loads (node paths)
	own     string            // the agent-owned file
	strays  []string          // old temporary files in rules folders (host paths)
	stages  map[string]string // where each file's temporary file goes (host paths)

	folderCheck func(dir string) string // see rulesFolders
	// cutNew tells, for each file the plan edits in place, whether the quick
	// cut holds for its new bytes.
	cutNew map[string]bool
	// config is the node's falco.yaml (a node path), which `falco -V` must
	// read: Falco refuses -V without a config, and loads plugins from it.
	config string
	// conditions are the policy blocks that change a condition, for a
	// refusal by `falco -V` to name (see conditionBlocks).
	conditions []conditionBlock
	// conf is falco.yaml's config_files layout and confFiles the config
	// files read, where the policy manages Falco's settings (settings.go).
	conf      *confLayout
	confFiles []string
}

// FileChange is one file a plan writes or removes.
type FileChange struct {
	Path    string   `json:"path"`
	Action  Action   `json:"action"`
	Changes []Change `json:"changes,omitempty"`
	Old     []byte   `json:"-"`
	New     []byte   `json:"-"`
}

// Change is one value that changes, as Falco reads it.
type Change struct {
	// Kind is what Rule names: "" for a rule, "list" for a list, "macro"
	// for a macro, "file" for a whole file (Rule is then its source in the
	// policy).
	Kind   string `json:"kind,omitempty"`
	Rule   string `json:"rule"`
	Field  string `json:"field"`
	Line   int    `json:"line,omitempty"`
	Old    string `json:"old"`
	New    string `json:"new"`
	Reason string `json:"reason"`
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Files) == 0 }

// MakePlan computes what it takes to bring the node's Falco rule files to
// the desired state. It reads files and state and writes nothing.
func MakePlan(d policy.Desired, o Options) (*Plan, error) {
	st, err := LoadState(o.StatePath())
	if err != nil {
		return nil, err
	}
	p := &Plan{opts: o, prev: st, FalcoVersion: o.FalcoVersion, cur: map[string][]byte{}, cutNew: map[string]bool{}}
	if p.FalcoVersion == "" {
		p.FalcoVersion = d.Falco.Version
	}
	p.Strategy, err = resolveStrategy(d.Falco.Strategy, p.FalcoVersion)
	if err != nil {
		return nil, err
	}
	if o.FalcoBinary == "" {
		p.Notes = append(p.Notes, "no falco binary on this node: files are not checked with `falco -V` before they are written")
	}
	cfg := cmp.Or(d.Falco.Config, o.FalcoConfig, policy.DefaultConfig)
	p.config = cfg
	own := d.Falco.OverrideFile
	if own == "" {
		own = policy.DefaultOverrideFile
	}
	entries := d.Falco.RulesFiles
	if len(entries) == 0 {
		if entries, err = rulesList(o.Root, cfg); err != nil {
			return nil, err
		}
	}
	ls, err := expand(o.Root, entries)
	if err != nil {
		return nil, err
	}
	all, missing := ls.files, ls.missing
	p.folders, p.strays = ls.folders, ls.strays
	p.Notes = append(p.Notes, ls.skipped...)
	p.own = own
	if err := p.readSettingsInputs(d, st, cfg); err != nil {
		return nil, err
	}
	vendor := without(all, own)
	for _, f := range shipped(d, st) {
		vendor = without(vendor, f)
	}
	for _, f := range all {
		data, err := ReadRulesFile(o.Root, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, readHint(err))
		}
		p.cur[f] = data
	}
	hashes := map[string]string{}
	if st.Inputs != "" { // skip all work when nothing changed since the last pass
		for f, b := range p.cur {
			hashes[f] = sum(b)
		}
		if inputsHash(d, p.Strategy, p.FalcoVersion, append(all, p.confFiles...), hashes) == st.Inputs {
			p.next = st
			return p, nil
		}
	}
	p.conditions = conditionBlocks(d)
	// Past the fast path: the files are not all as the last pass left
	// them, which may be because it was killed while it wrote them.
	if err := st.settle(o.Root, o.StatePath(), p.cur); err != nil {
		return nil, err
	}
	hashOf := func(f string) string {
		h, ok := hashes[f]
		if !ok {
			h = sum(p.cur[f])
			hashes[f] = h
		}
		return h
	}
	rf, err := loadRulesFiles(vendor, p.cur, func(f string) bool {
		h := hashOf(f)
		return vendorCut[h] || st.Parsed[f] == h
	})
	if err != nil {
		return nil, err
	}
	defs, err := findRules(d.Rules, rf, vendor, missing, p.Strategy == policy.InPlace)
	if err != nil {
		return nil, err
	}
	lists, err := findLists(d.Lists, rf, vendor)
	if err != nil {
		return nil, err
	}
	macros, err := findMacros(d.Macros, rf, vendor)
	if err != nil {
		return nil, err
	}
	// A block that manages nothing (the policy warns of it) is looked up, so
	// that a misspelt name is told, and then leaves the vendor's definition
	// as it is: no entry in the override file (an empty `override:` is an
	// error to Falco), and no load order to keep.
	d.Rules, d.Macros = ownRules(d.Rules), ownMacros(d.Macros)
	maps.DeleteFunc(defs, func(name string, _ def) bool {
		return !slices.ContainsFunc(d.Rules, func(r policy.Rule) bool { return r.Name == name })
	})
	maps.DeleteFunc(macros, func(name string, _ macroDef) bool {
		return !slices.ContainsFunc(d.Macros, func(m policy.Macro) bool { return m.Name == name })
	})
	next := &State{Files: map[string]*FileState{}, Applied: st.Applied}
	if err := p.planInPlace(d, rf, defs, lists, macros, st, next); err != nil {
		return nil, err
	}
	if err := p.planOverride(d, rf, defs, lists, macros, st, next, own, entries); err != nil {
		return nil, err
	}
	if err := p.planFiles(d, st, next, entries); err != nil {
		return nil, err
	}
	if err := p.planSettings(d, st, next); err != nil {
		return nil, err
	}
	for _, fc := range p.Files {
		if fc.Action != Delete {
			if err := checkWritable(o.Root, path.Dir(cfg), fc.Path); err != nil {
				return nil, err
			}
		}
	}
	p.order = loadOrder(entries, all, own, p.Files)
	if p.Strategy == policy.Override && len(d.Rules)+len(d.Lists)+len(d.Macros) > 0 {
		if err := loadsAfter(p.order, own, defs); err != nil {
			return nil, err
		}
		if err := listsLoadAfter(p.order, own, lists); err != nil {
			return nil, err
		}
		if err := macrosLoadAfter(p.order, own, macros); err != nil {
			return nil, err
		}
	}
	for _, fc := range p.Files {
		switch fst := next.Files[fc.Path]; {
		case fc.Action == Delete:
			delete(hashes, fc.Path)
		case fst != nil:
			hashes[fc.Path] = fst.SHA256
		default:
			hashes[fc.Path] = sum(fc.New)
		}
	}
	inputs := append(slices.Clone(p.order), p.confFilesAfter()...)
	for _, f := range inputs {
		if _, ok := hashes[f]; !ok {
			hashes[f] = sum(p.cur[f])
		}
	}
	next.Parsed = map[string]string{}
	for _, f := range vendor {
		simple, changed := p.cutNew[f]
		if !changed {
			simple = rf[f].simple
		}
		if simple {
			next.Parsed[f] = hashes[f]
		}
	}
	next.Inputs = inputsHash(d, p.Strategy, p.FalcoVersion, inputs, hashes)
	if st.Refused != "" && next.Inputs == st.Refused {
		return nil, ErrRefused
	}
	p.next = next
	return p, nil
}

// ErrRefused is returned for a change that was rolled back because Falco
// did not come back with it: trying it again would take Falco down again.
var ErrRefused = errors.New("this exact change was rolled back before because Falco did not come back with it: fix the policy (or Falco) to try again")

// resolveStrategy picks override where Falco has `override:` (0.37.0+) and
// the strategy is auto. On older Falco auto edits in place: redefining the
// rule in rules.d would drop the appends falco_rules.local.yaml makes to it.
func resolveStrategy(s policy.Strategy, version string) (policy.Strategy, error) {
	switch s {
	case policy.InPlace, policy.Override:
		return s, nil
	case policy.Auto, "":
		if version != "" && versionAtLeast(version, "0.37.0") {
			return policy.Override, nil
		}
		return policy.InPlace, nil
	}
	return "", fmt.Errorf("unknown strategy %q: use in_place, override or auto", s)
}

// inputsHash covers everything a pass's result depends on.
func inputsHash(d policy.Desired, s policy.Strategy, version string, files []string, hashes map[string]string) string {
	b, _ := json.Marshal(struct {
		D policy.Desired
		S policy.Strategy
		V string
	}{d, s, version})
	var sb strings.Builder
	sb.Write(b)
	for _, f := range files {
		sb.WriteString("\x00" + f + "\x00" + hashes[f])
	}
	return sum([]byte(sb.String()))
}

func readHint(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (run rulekeeper as root, or give it read and write access to Falco's rule files)", err)
	}
	return err
}
