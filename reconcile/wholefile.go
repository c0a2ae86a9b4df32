package reconcile

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
)

// shipped lists the node paths of the whole files the policy ships and of
// those rulekeeper wrote for it before: they are rulekeeper's, not the
// vendor's, so no rule or list is looked up (or edited) in them.
func shipped(d policy.Desired, st *State) []string {
	var out []string
	for _, f := range d.Files {
		out = append(out, f.Path)
	}
	for p, fst := range st.Files {
		if fst.Source != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// planFiles writes the whole rules files the policy ships, and removes the
// ones it shipped before and no longer does. A file is written only where
// Falco loads it, and only over a file rulekeeper owns.
func (p *Plan) planFiles(d policy.Desired, st, next *State, entries []string) error {
	var errs []string
	for _, f := range d.Files {
		if err := p.planFile(f, st, next, entries); err != nil {
			errs = append(errs, fmt.Sprintf("%s: file %q: %v", f.Pos, f.Path, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	for _, fp := range shipped(d, st) {
		if next.Files[fp] != nil {
			continue
		}
		if err := p.removeOwned(fp, Change{Kind: "file", Rule: st.Files[fp].Source, Field: "content", Reason: ReasonRestore}); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) planFile(f policy.File, st, next *State, entries []string) error {
	switch prev := st.Files[f.Path]; {
	case f.Path == p.own:
		return fmt.Errorf("it is the override_file, which rulekeeper writes from the rule blocks: choose another path")
	case !slices.Contains(entries, f.Path) && !slices.Contains(entries, path.Dir(f.Path)):
		return fmt.Errorf("it is not among the files Falco loads (%s), so Falco would never read it; put it in a rules folder Falco loads (such as /etc/falco/rules.d), or add it to rules_files", strings.Join(entries, ", "))
	case prev != nil && len(prev.Values) > 0:
		return fmt.Errorf("rulekeeper edits values of this file in place: it cannot also write it whole")
	}
	if _, err := readRules("policy file "+f.Source, f.Content, false); err != nil {
		return fmt.Errorf("the source is not a Falco rules file: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(f.Content) + 200)
	b.WriteString(ownHeader)
	b.WriteString("# Source: " + oneLineComment(f.Source) + " in the policy.\n")
	b.Write(f.Content)
	if len(f.Content) > 0 && f.Content[len(f.Content)-1] != '\n' {
		b.WriteByte('\n')
	}
	out := b.Bytes()
	if len(out) > MaxRulesFileSize {
		return fmt.Errorf("with rulekeeper's header it is over the %d MiB cap on a rules file: split it", MaxRulesFileSize>>20)
	}
	next.Files[f.Path] = &FileState{Owned: true, Source: f.Source, SHA256: sum(out)}

	cur, err := ReadRulesFile(p.opts.Root, f.Path)
	exists := err == nil
	if err != nil && !os.IsNotExist(err) {
		return readHint(err)
	}
	prev := st.Files[f.Path]
	if exists && !bytes.HasPrefix(cur, []byte(ownHeader)) && (prev == nil || !prev.Owned) {
		return fmt.Errorf("%s exists and was not written by rulekeeper: move it away, or ship the file under another name", f.Path)
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
	p.Files = append(p.Files, &FileChange{Path: f.Path, Action: act, Old: cur, New: out,
		Changes: []Change{{Kind: "file", Rule: f.Source, Field: "content", Reason: reason}}})
	return nil
}

// oneLineComment keeps a name on its comment line.
func oneLineComment(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// removeOwned plans the removal of a file rulekeeper wrote that left the
// policy: gone already, nothing to do; replaced by a file of someone else's
// (no header), left as it is with a note.
func (p *Plan) removeOwned(path string, why Change) error {
	cur, err := ReadRulesFile(p.opts.Root, path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, readHint(err))
	}
	if !bytes.HasPrefix(cur, []byte(ownHeader)) {
		p.Notes = append(p.Notes, fmt.Sprintf("%s left the policy but is no longer the file rulekeeper wrote: left as it is", path))
		return nil
	}
	p.Files = append(p.Files, &FileChange{Path: path, Action: Delete, Old: cur, Changes: []Change{why}})
	return nil
}
