package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/internal/noderoot"
)

// defaultRulesFiles is what Falco loads when falco.yaml names nothing
// (0.32.1 through 0.44.1 alike).
var defaultRulesFiles = []string{
	"/etc/falco/falco_rules.yaml",
	"/etc/falco/falco_rules.local.yaml",
	"/etc/falco/rules.d",
}

// rulesList reads the rules files Falco loads from its config: `rules_files`
// (0.38+) or `rules_file` (older), falling back to Falco's defaults when the
// config does not exist. Entries are node paths; directories stay directories.
func rulesList(root, config string) ([]string, error) {
	data, err := os.ReadFile(hostPath(root, config))
	if errors.Is(err, fs.ErrNotExist) {
		return defaultRulesFiles, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config, readHint(err))
	}
	var c struct {
		RulesFile  []string `yaml:"rules_file"`
		RulesFiles []string `yaml:"rules_files"`
	}
	// Parsing all of falco.yaml (65 KB in 0.44) costs more than the rest of
	// a pass; only the rules keys matter, so only their blocks are parsed.
	if err := yaml.Unmarshal(topLevelKeys(data, "rules_file", "rules_files"), &c); err != nil {
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("%s: %w (fix the file, or name the rules files with rules_files in the policy's falco block)", config, yamlError(err))
		}
	}
	switch {
	case len(c.RulesFiles) > 0:
		return c.RulesFiles, nil
	case len(c.RulesFile) > 0:
		return c.RulesFile, nil
	}
	return defaultRulesFiles, nil
}

// expand turns the list into files in Falco's load order: a directory
// stands for the files in it, in alphabetical order. Missing entries are
// returned apart, so that "rule not found" can name everything searched.
func expand(root string, entries []string) (files, missing []string, err error) {
	for _, e := range entries {
		fi, err := os.Stat(hostPath(root, e))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, e)
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("%s: %w", e, readHint(err))
		case !fi.IsDir():
			files = append(files, e)
			continue
		}
		des, err := os.ReadDir(hostPath(root, e))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", e, readHint(err))
		}
		for _, de := range des {
			if de.Type().IsRegular() || de.Type()&fs.ModeSymlink != 0 {
				if !strings.HasPrefix(de.Name(), ".") {
					files = append(files, path.Join(e, de.Name()))
				}
			}
		}
	}
	return files, missing, nil
}

// hostPath maps a node path into the sandbox root.
var hostPath = noderoot.Join

// checkWritable refuses a path that leads, through symlinks, outside the
// Falco config directory: an operator (or an intruder) pointing a rules file
// at /etc/shadow must not make rulekeeper write there.
func checkWritable(root, configDir, p string) error {
	host := hostPath(root, p)
	real, err := filepath.EvalSymlinks(host)
	if errors.Is(err, fs.ErrNotExist) {
		real, err = filepath.EvalSymlinks(filepath.Dir(host))
		real = filepath.Join(real, filepath.Base(host))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	dir, err := filepath.EvalSymlinks(hostPath(root, configDir))
	if err != nil {
		return fmt.Errorf("falco config directory %s: %w", configDir, err)
	}
	if real != dir && !strings.HasPrefix(real, dir+string(filepath.Separator)) {
		return fmt.Errorf("%s leads to %s, outside the Falco config directory %s: rulekeeper will not write there; replace the symlink with the file itself", p, nodePath(root, real), configDir)
	}
	return nil
}

// nodePath is the inverse of hostPath, for messages.
func nodePath(root, host string) string {
	if root == "" || root == "/" {
		return host
	}
	if rel, err := filepath.Rel(root, host); err == nil && !strings.HasPrefix(rel, "..") {
		return "/" + rel
	}
	return host
}

func without(list []string, p string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == p })
}

// topLevelKeys returns the lines of the named top-level keys with their
// indented or list continuation lines.
func topLevelKeys(data []byte, keys ...string) []byte {
	var out []byte
	in := false
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) > 0 && line[0] != ' ' && line[0] != '-' && line[0] != '#' && line[0] != '\n' {
			in = false
			for _, k := range keys {
				if bytes.HasPrefix(line, []byte(k+":")) {
					in = true
				}
			}
		}
		if in {
			out = append(out, line...)
		}
	}
	return out
}
