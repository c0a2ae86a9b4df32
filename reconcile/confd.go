package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/internal/noderoot"
)

// dropInName is the file rulekeeper owns in a config folder Falco merges
// (config.d): the name of the override file in rules.d, for one habit.
const dropInName = "50-rulekeeper.yaml"

// Merge strategies of a config_files entry (Falco 0.41+; before, every
// entry replaced what it set, lists included).
const (
	mergeAppend  = "append"   // lists are appended to, scalars replaced
	mergeReplace = "override" // lists and scalars replaced
	mergeAddOnly = "add-only" // keys already set are left alone
)

// confLayout is what falco.yaml says of the config files Falco merges
// into it (`config_files`, 0.38+).
type confLayout struct {
	config string // falco.yaml (node path)
	data   []byte // its bytes
	// entries are the config_files entries, in order.
	entries []confEntry
	// files are the config files Falco merges after falco.yaml, in order
	// (node paths): listed files, and the regular files of listed folders
	// sorted by name, as 0.40.0's merge_config_files reads them.
	files []string
}

// confEntry is one config_files entry.
type confEntry struct {
	path     string
	key      string // the -o key that names it: config_files[i] or config_files[i].path
	strategy string // as written, "" when not
	folder   bool   // a folder, or a path that does not exist and is not named like a file
	files    []string
}

// readConfLayout reads falco.yaml's config_files and lists the files they
// stand for. A missing falco.yaml has none.
func readConfLayout(root, config string) (*confLayout, error) {
	cl := &confLayout{config: config}
	data, err := ReadRulesFile(root, config)
	if errors.Is(err, fs.ErrNotExist) {
		return cl, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config, readHint(err))
	}
	cl.data = data
	var c struct {
		ConfigFiles []yaml.Node `yaml:"config_files"`
	}
	if err := unmarshal(topLevelKeys(data, "config_files"), &c); err != nil {
		return nil, fmt.Errorf("%s: config_files: %w (Falco could not read it either)", config, yamlError(err))
	}
	for i, n := range c.ConfigFiles {
		e := confEntry{key: fmt.Sprintf("config_files[%d]", i), path: n.Value}
		if n.Kind == yaml.MappingNode { // {path: ..., strategy: ...}
			var m struct{ Path, Strategy string }
			if n.Decode(&m) != nil {
				continue
			}
			e.key, e.path, e.strategy = e.key+".path", m.Path, m.Strategy
		}
		if !path.IsAbs(e.path) {
			continue // relative to Falco's working directory: not a node path rulekeeper can tell
		}
		host, err := noderoot.Host(root, e.path)
		if err != nil {
			return nil, fmt.Errorf("%s: config_files: %s: %w", config, e.path, err)
		}
		fi, err := os.Stat(host)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			e.folder = !strings.HasSuffix(e.path, ".yaml") && !strings.HasSuffix(e.path, ".yml")
		case err != nil:
			return nil, fmt.Errorf("%s: config_files: %s: %w", config, e.path, readHint(err))
		case fi.IsDir():
			e.folder = true
			des, err := os.ReadDir(host)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.path, readHint(err))
			}
			for _, de := range des {
				if fi, err := os.Stat(mustHost(root, path.Join(e.path, de.Name()))); err == nil && fi.Mode().IsRegular() {
					e.files = append(e.files, path.Join(e.path, de.Name()))
				}
			}
			slices.Sort(e.files)
		case fi.Mode().IsRegular():
			e.files = []string{e.path}
		}
		cl.entries = append(cl.entries, e)
		cl.files = append(cl.files, e.files...)
	}
	return cl, nil
}

// dropInFolder is the config_files entry the drop-in goes in: the first
// folder. nil when falco.yaml lists none.
func (cl *confLayout) dropInFolder() *confEntry {
	for i := range cl.entries {
		if cl.entries[i].folder {
			return &cl.entries[i]
		}
	}
	return nil
}

// after lists the config files Falco merges after the node path f.
func (cl *confLayout) after(f string) []string {
	var out []string
	seen := false
	for _, e := range cl.entries {
		files := e.files
		if e.folder && path.Dir(f) == e.path && !slices.Contains(files, f) {
			files = append(slices.Clone(files), f)
			slices.Sort(files)
		}
		for _, g := range files {
			switch {
			case g == f:
				seen = true
			case seen:
				out = append(out, g)
			}
		}
	}
	return out
}

// before lists the config files Falco merges before the node path f.
func (cl *confLayout) before(f string) []string {
	var out []string
	for _, g := range cl.files {
		if g == f || slices.Contains(cl.after(f), g) {
			continue
		}
		out = append(out, g)
	}
	return out
}
