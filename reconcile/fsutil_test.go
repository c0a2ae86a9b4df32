package reconcile

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
)

// TestMain fails the run, rather than letting diff-based checks pass on no
// output, when diff(1) is missing.
func TestMain(m *testing.M) {
	if _, err := exec.LookPath("diff"); err != nil {
		fmt.Fprintln(os.Stderr, "the reconcile tests compare files with diff(1): install the Debian package diffutils")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func inode(t testing.TB, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// snapshot records every entry under root: type, mode, owner, link target
// and content, so that "nothing changed" can be checked whole.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" ino=%d %s", st.Ino, sum(b))
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails the test with every difference between two snapshots.
func sameTree(t testing.TB, before, after map[string]string) {
	t.Helper()
	var diffs []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			diffs = append(diffs, "removed "+p)
		} else if a != b {
			diffs = append(diffs, fmt.Sprintf("changed %s: %s -> %s", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "added "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("files changed:\n%s", strings.Join(diffs, "\n"))
	}
}

// noTemps fails when a temporary file of rulekeeper's is left under root.
func noTemps(t testing.TB, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && atomicfile.IsTemp(d.Name()) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// heldOpen opens the node's files and returns a check that each path still
// names the same file: nothing replaced it, not even with its own bytes.
// The open descriptors keep the inodes from being reused, which would let
// a file replaced and put back pass for untouched in a snapshot.
func heldOpen(t testing.TB, root string, paths ...string) func() {
	t.Helper()
	var files []*os.File
	for _, p := range paths {
		f, err := os.Open(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return func() {
		t.Helper()
		for i, f := range files {
			held, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			now, err := os.Stat(filepath.Join(root, paths[i]))
			if err != nil {
				t.Fatalf("%s: %v", paths[i], err)
			}
			if !os.SameFile(held, now) {
				t.Errorf("%s was replaced (inode %d, was %d)", paths[i], now.Sys().(*syscall.Stat_t).Ino, held.Sys().(*syscall.Stat_t).Ino)
			}
		}
	}
}
