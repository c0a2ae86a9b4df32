package reconcile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// The replaced file keeps its mode and owner, and no temporary file stays.
func TestAtomicKeepsModeAndOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test chowns files and must run as root (the test command runs it so)")
	}
	for _, tc := range []struct {
		strategy policy.Strategy
		path     string
		version  string
	}{
		{policy.InPlace, rulesPath, "0.32.1"},
		{policy.Override, ownPath, "0.44.1"},
	} {
		t.Run(string(tc.strategy), func(t *testing.T) {
			root := node044(t)
			o := at(root, tc.version)
			host := filepath.Join(root, tc.path)
			if tc.strategy == policy.Override {
				mustApply(t, exam(policy.Override), o) // create it first
			}
			if err := os.Chown(host, 1234, 1234); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(host, 0o640); err != nil {
				t.Fatal(err)
			}
			ino := inode(t, host)
			p := mustApply(t, examWith(tc.strategy, func(r *policy.Rule) { r.Output.Prefix = "SHELL!" }), o)
			if len(p.Files) != 1 || p.Files[0].Path != tc.path {
				t.Fatalf("plan:\n%s", p.Summary())
			}
			fi, err := os.Stat(host)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Perm() != 0o640 || st.Uid != 1234 || st.Gid != 1234 {
				t.Fatalf("after the write: mode %v owner %d:%d, want -rw-r----- 1234:1234", fi.Mode().Perm(), st.Uid, st.Gid)
			}
			if inode(t, host) == ino {
				t.Fatal("the file was written in place, not replaced by rename")
			}
			if !strings.Contains(readNode(t, root, tc.path), "SHELL!") {
				t.Fatal("the edit is not in the file")
			}
			noTemps(t, root)
		})
	}
}

// A rules file that is a symlink inside /etc/falco is written through: the
// link stays a link and its target gets the new bytes.
func TestSymlinkInsideWrittenThrough(t *testing.T) {
	for _, target := range []string{"/etc/falco/vendor/falco_rules.yaml", "vendor/falco_rules.yaml"} {
		t.Run(target, func(t *testing.T) {
			root := node032(t)
			real := filepath.Join(root, "etc/falco/vendor/falco_rules.yaml")
			writeNode(t, root, "/etc/falco/vendor/falco_rules.yaml", []byte(readNode(t, root, rulesPath)))
			link := filepath.Join(root, rulesPath)
			os.Remove(link)
			// An absolute target is a node path: it resolves inside the root.
			text := target
			if err := os.Symlink(text, link); err != nil {
				t.Fatal(err)
			}
			mustApply(t, exam(policy.InPlace), opts(root))
			fi, err := os.Lstat(link)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode()&os.ModeSymlink == 0 {
				t.Fatal("the symlink was replaced by a file")
			}
			if l, _ := os.Readlink(link); l != text {
				t.Fatalf("link now points to %s", l)
			}
			got, err := os.ReadFile(real)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), "NEW SHELL!!!") {
				t.Fatal("the target was not written")
			}
			noTemps(t, root)
			if !mustPlan(t, exam(policy.InPlace), opts(root)).Empty() {
				t.Fatal("second plan not empty")
			}
			// Dropping the rule restores the target through the link too.
			mustApply(t, policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}}, opts(root))
			if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
				t.Fatal("the symlink was replaced by a file on restore")
			}
			if d := diffLines(t, vendor032, real); len(d) > 0 { // the link's text resolves only inside the root
				t.Fatalf("not restored:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

// A new agent-owned file gets 0644 and the parent's default owner; no
// temporary file stays in rules.d, where Falco would load it.
func TestOverrideFileCreated(t *testing.T) {
	root := node044(t)
	mustApply(t, exam(policy.Override), at(root, "0.44.1"))
	fi, err := os.Stat(filepath.Join(root, ownPath))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	des, _ := os.ReadDir(filepath.Join(root, "etc/falco/rules.d"))
	if len(des) != 1 {
		t.Fatalf("rules.d holds %d entries", len(des))
	}
}

func TestHolds(t *testing.T) {
	dir := t.TempDir()
	block := bytes.Repeat([]byte("x"), 32<<10)
	for name, tc := range map[string]struct {
		disk, want []byte
		same       bool
	}{
		"equal":                   {[]byte("abc"), []byte("abc"), true},
		"both empty":              {nil, nil, true},
		"disk longer":             {[]byte("abcd"), []byte("abc"), false},
		"disk shorter":            {[]byte("ab"), []byte("abc"), false},
		"one byte differs":        {[]byte("abd"), []byte("abc"), false},
		"a whole block":           {block, block, true},
		"a block and one more":    {append(bytes.Clone(block), 'y'), block, false},
		"one short of a block":    {block[1:], block, false},
		"differs in second block": {append(bytes.Clone(block), 'y'), append(bytes.Clone(block), 'z'), false},
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, tc.disk, 0o644)
		if got, err := holds(p, tc.want); err != nil || got != tc.same {
			t.Errorf("%s: holds = %v, %v; want %v", name, got, err, tc.same)
		}
	}
	if _, err := holds(filepath.Join(dir, "missing"), nil); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
