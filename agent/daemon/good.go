package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The last policy that converged the node is kept in STATE/policy-good, so
// that a bad commit (or a server that is down) never stops drift from being
// put back: passes then run the last good policy.

const goodCommitFile = "COMMIT"

func (d *Daemon) goodDir() string { return filepath.Join(d.stateDir, "policy-good") }

// good returns the folder of the last good policy and its commit; "" when
// none was kept yet.
func (d *Daemon) good() (dir, commit string) {
	dir = d.goodDir()
	if !isDir(dir) {
		return "", ""
	}
	b, _ := os.ReadFile(filepath.Join(dir, goodCommitFile))
	return dir, strings.TrimSpace(string(b))
}

// keepGood copies the *.hcl files of dir (what policy.Load reads) unless
// the copy already holds the same.
func (d *Daemon) keepGood(dir, commit string) error {
	files, err := hclFiles(dir)
	if err != nil {
		return err
	}
	if kept, err := hclFiles(d.goodDir()); err == nil && equalFiles(files, kept) {
		if _, c := d.good(); c == commit {
			return nil
		}
	}
	tmp := d.goodDir() + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	files[goodCommitFile] = []byte(commit + "\n")
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o600); err != nil {
			return err
		}
	}
	// Swap: the old copy goes only once the new one is complete.
	old := d.goodDir() + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(d.goodDir(), old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, d.goodDir()); err != nil {
		return fmt.Errorf("keeping the good policy: %w", err)
	}
	return os.RemoveAll(old)
}

func hclFiles(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".hcl") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			out[e.Name()] = b
		}
	}
	return out, nil
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || string(v) != string(w) {
			return false
		}
	}
	return true
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
