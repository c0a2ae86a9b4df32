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

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
	"github.com/rulekeeper/rulekeeper/internal/noderoot"
	"github.com/rulekeeper/rulekeeper/internal/regfile"
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
	data, err := ReadRulesFile(root, config)
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
	if err := unmarshal(topLevelKeys(data, "rules_file", "rules_files"), &c); err != nil {
		if err := unmarshal(data, &c); err != nil {
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

// listing is what expand found.
type listing struct {
	files   []string // in Falco's load order
	missing []string // entries that do not exist
	folders []string // entries that are folders
	// skipped are folder entries that are not regular files (a FIFO, a
	// symlink to a device): Falco skips them (seen with 0.32.1 and 0.44.1),
	// and so does rulekeeper.
	skipped []string
	// strays are temporary files that earlier versions of rulekeeper left
	// in rules folders when they were killed (host paths).
	strays []string
}

// expand turns the list into files in Falco's load order: a directory
// stands for the files in it, in alphabetical order. Missing entries are
// returned apart, so that "rule not found" can name everything searched.
// Symlinks resolve inside the root.
func expand(root string, entries []string) (*listing, error) {
	ls := &listing{}
	for _, e := range entries {
		host, err := noderoot.Host(root, e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e, readHint(err))
		}
		fi, err := os.Stat(host)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			ls.missing = append(ls.missing, e)
			continue
		case err != nil:
			return nil, fmt.Errorf("%s: %w", e, readHint(err))
		case !fi.IsDir():
			ls.files = append(ls.files, e) // read, and refused if it is no regular file
			continue
		}
		ls.folders = append(ls.folders, e)
		des, err := os.ReadDir(host)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e, readHint(err))
		}
		for _, de := range des {
			name := path.Join(e, de.Name())
			if strings.HasPrefix(de.Name(), ".") {
				if de.Type().IsRegular() && atomicfile.IsTemp(de.Name()) {
					ls.strays = append(ls.strays, filepath.Join(host, de.Name()))
				}
				continue
			}
			t := de.Type()
			if t&fs.ModeSymlink != 0 {
				if fi, err := os.Stat(mustHost(root, name)); err == nil {
					t = fi.Mode().Type()
				} else if errors.Is(err, fs.ErrNotExist) {
					continue // a dangling link: Falco's stat fails too
				}
			}
			switch {
			case t.IsRegular():
				ls.files = append(ls.files, name)
			case t.IsDir():
			default:
				ls.skipped = append(ls.skipped, fmt.Sprintf("%s is %s, not a regular file: Falco skips it in a rules folder, and so does rulekeeper", name, regfile.Kind(t)))
			}
		}
	}
	return ls, nil
}

// mustHost is noderoot.Host for a path whose folder resolved already; an
// error leaves the path unresolved, for the read to report.
func mustHost(root, p string) string {
	if h, err := noderoot.Host(root, p); err == nil {
		return h
	}
	return hostPath(root, p)
}

// hostPath maps a node path into the sandbox root.
var hostPath = noderoot.Join

// checkWritable refuses a path that leads, through symlinks, outside the
// Falco config directory: an operator (or an intruder) pointing a rules file
// at /etc/shadow must not make rulekeeper write there. Symlinks resolve
// inside the root, as on the node itself.
func checkWritable(root, configDir, p string) error {
	real, link, err := noderoot.Resolve(root, p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	dir, _, err := noderoot.Resolve(root, configDir)
	if err != nil {
		return fmt.Errorf("falco config directory %s: %w", configDir, err)
	}
	if real == dir || strings.HasPrefix(real, dir+"/") {
		return nil
	}
	if link {
		return fmt.Errorf("%s leads to %s, outside the Falco config directory %s: rulekeeper will not write there; replace the symlink with the file itself", p, real, configDir)
	}
	return fmt.Errorf("%s is outside the Falco config directory %s: rulekeeper writes only under it; move the rules file there (and name it in Falco's rules list), or leave this file out of the policy's rules_files", p, configDir)
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
