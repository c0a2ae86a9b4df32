package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rulekeeper/rulekeeper/internal/regfile"
)

// file evaluates a file block: the node path in its label, the source in
// the policy folder, read here so that `rulekeeper validate` in the policy
// repository's CI already finds a missing or escaping source.
func (ev *evaluator) file(nb *namedBlock) (File, bool) {
	f := File{Path: nb.name, Pos: blockPos(nb.defRange)}
	if !ev.when(nb.attrs) {
		return f, false
	}
	ev.checkFilePath(nb.name, nb.labelRange)
	sa := nb.attrs["source"]
	s, ok := ev.str(sa)
	if !ok {
		return f, sa != nil // unknown here (validate): nothing more to check
	}
	f.Source = s
	rng := sa.Expr.Range()
	if !filepath.IsLocal(s) {
		ev.fail(rng, "Source outside the policy folder", fmt.Sprintf(
			"source is a file of the policy folder, relative to it, such as \"rules/60-team.yaml\"; %q is not (an absolute path or a path through `..` would read the node's files).", s))
		return f, true
	}
	data, err := readSource(ev.p.dir, s)
	if err != nil {
		ev.fail(rng, "Cannot read source", err.Error()+".")
		return f, true
	}
	h := sha256.Sum256(data)
	f.Content, f.SHA256 = data, hex.EncodeToString(h[:])
	return f, true
}

// checkFilePath refuses a node path Falco would not load as a rules file:
// it must be absolute and clean, and named *.yaml or *.yml (from 0.41.0
// Falco loads nothing else from a rules folder).
func (ev *evaluator) checkFilePath(p string, rng hcl.Range) {
	switch {
	case !path.IsAbs(p):
		ev.fail(rng, "Relative path", fmt.Sprintf(
			"The label of a file block is the absolute path where Falco loads the file on the node, such as \"/etc/falco/rules.d/60-team.yaml\" (%q is not).", p))
	case path.Clean(p) != p:
		ev.fail(rng, "Unclean path", fmt.Sprintf("Write the path as %q: rulekeeper compares it with Falco's rules list as written.", path.Clean(p)))
	case !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml"):
		ev.fail(rng, "Not a .yaml file name", fmt.Sprintf(
			"Falco 0.41 and later load only *.yaml and *.yml files from a rules folder, so %q would be ignored there; name it %s.yaml.", p, strings.TrimSuffix(p, path.Ext(p))))
	}
}

// readSource reads a policy file, refusing one that leads outside the
// policy folder through a symlink, and one over the rules file cap.
func readSource(dir, rel string) ([]byte, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist in the policy folder %s: add the file to the policy repository, or fix source", rel, dir)
	}
	if err != nil {
		return nil, err
	}
	if r, err := filepath.Rel(root, real); err != nil || !filepath.IsLocal(r) {
		return nil, fmt.Errorf("%s is a symlink that leads outside the policy folder (to %s): the policy may ship only its own files", rel, r)
	}
	data, err := regfile.Read(real, regfile.MaxRulesFile)
	var tl *regfile.TooLargeError
	var nr *regfile.NotRegularError
	switch {
	case errors.As(err, &tl):
		return nil, fmt.Errorf("%s is over the %d MiB cap on a rules file (Falco's largest upstream rules file is 136 KB): split it", rel, tl.Limit>>20)
	case errors.As(err, &nr):
		return nil, fmt.Errorf("%s is %s, not a regular file: give a rules file", rel, regfile.Kind(nr.Mode))
	case err != nil:
		return nil, err
	}
	return data, nil
}
