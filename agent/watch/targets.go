package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// targets is what the caller asked to watch: single files, and directories watched whole.
type targets struct {
	files map[string]bool
	dirs  map[string]bool
}

func newTargets(paths []string) (targets, error) {
	t := targets{files: map[string]bool{}, dirs: map[string]bool{}}
	for _, p := range paths {
		if p == "" {
			return t, fmt.Errorf("watch: empty path in the list of paths to watch")
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return t, fmt.Errorf("watch: %s: %w", p, err)
		}
		if strings.HasSuffix(p, "/") || isDir(abs) {
			t.dirs[abs] = true
		} else {
			t.files[abs] = true
		}
	}
	return t, nil
}

// match reports whether an event on name concerns a target.
func (t targets) match(name string) bool {
	return t.files[name] || t.dirs[name] || (t.dirs[filepath.Dir(name)] && isRulesFile(name))
}

// Falco loads *.yaml and *.yml from a rules folder; editors' swap and backup files are not rules.
func isRulesFile(name string) bool {
	ext := filepath.Ext(name)
	return (ext == ".yaml" || ext == ".yml") && !strings.HasPrefix(filepath.Base(name), ".")
}

// needed lists the directories whose entries the targets are.
func (t targets) needed() []string {
	var out []string
	for f := range t.files {
		out = append(out, filepath.Dir(f))
	}
	for d := range t.dirs {
		out = append(out, d)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// onPathTo reports whether name is a needed directory or one of its ancestors.
func (t targets) onPathTo(name string) bool {
	for _, n := range t.needed() {
		if n == name || strings.HasPrefix(n, withSlash(name)) {
			return true
		}
	}
	return false
}

// under lists the targets at or below name.
func (t targets) under(name string) []string {
	var out []string
	for f := range t.files {
		if f == name || strings.HasPrefix(f, withSlash(name)) {
			out = append(out, f)
		}
	}
	for d := range t.dirs {
		if d == name || strings.HasPrefix(d, withSlash(name)) {
			out = append(out, d)
		}
	}
	return out
}

// watchDirs lists the directories to hold inotify watches on, given the file system as it is now:
// each needed directory and its parent (whose events tell when the directory is removed, recreated
// or re-pointed), or, while a needed directory is missing, its nearest existing ancestor (whose
// events tell when the path to it comes back).
func (t targets) watchDirs() []string {
	var out []string
	for _, n := range t.needed() {
		if isDir(n) {
			out = append(out, n, filepath.Dir(n))
			continue
		}
		a := filepath.Dir(n)
		for !isDir(a) && a != filepath.Dir(a) {
			a = filepath.Dir(a)
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func withSlash(p string) string {
	if strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}
