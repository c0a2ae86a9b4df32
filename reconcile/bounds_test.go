package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/policy"
)

// A rules file that is no regular file, or too large, is one clear error
// naming it, found before a byte is read (a FIFO does not block, /dev/zero
// does not fill memory), and nothing is written.
func TestRulesFileNotReadable(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test makes device nodes in a sandbox and must run as root (the test command runs it so)")
	}
	const local = "/etc/falco/falco_rules.local.yaml"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root string)
		want  []string
	}{
		{
			name: "symlink to /dev/zero",
			setup: func(t *testing.T, root string) {
				mknod(t, root, "/dev/zero", unix.S_IFCHR, 1, 5)
				link(t, root, "/dev/zero", local)
			},
			want: []string{local + ": leads to /dev/zero, a character device, not a regular file", "replace it with the rules file itself"},
		},
		{
			name: "FIFO",
			setup: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, local))
				if err := syscall.Mkfifo(filepath.Join(root, local), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{local + ": a FIFO, not a regular file"},
		},
		{
			name: "block device",
			setup: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, local))
				mknod(t, root, local, unix.S_IFBLK, 7, 0)
			},
			want: []string{local + ": a block device, not a regular file"},
		},
		{
			name: "one byte over the cap",
			setup: func(t *testing.T, root string) {
				if err := os.Truncate(filepath.Join(root, local), MaxRulesFileSize+1); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{local + ": more than 4194304 bytes, over the 4 MiB rulekeeper reads of one rules file"},
		},
		{
			name: "oversize file",
			setup: func(t *testing.T, root string) {
				if err := os.Truncate(filepath.Join(root, local), 20<<20); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{local + ": 20971520 bytes (20.0 MiB), over the 4 MiB rulekeeper reads of one rules file", "remove the file or split it"},
		},
		{
			name: "falco.yaml a symlink to /dev/zero",
			setup: func(t *testing.T, root string) {
				mknod(t, root, "/dev/zero", unix.S_IFCHR, 1, 5)
				link(t, root, "/dev/zero", "/etc/falco/falco.yaml")
			},
			want: []string{"/etc/falco/falco.yaml: leads to /dev/zero, a character device"},
		},
		{
			name: "the managed file a FIFO",
			setup: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, rulesPath))
				if err := syscall.Mkfifo(filepath.Join(root, rulesPath), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{rulesPath + ": a FIFO, not a regular file"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			tc.setup(t, root)
			before := snapshot(t, root)
			done := make(chan error, 1)
			go func() {
				p, err := MakePlan(exam(policy.InPlace), opts(root))
				if err == nil {
					_, err = Apply(p)
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the pass still runs after 10 s")
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\ndoes not say:\n%s", err, w)
				}
			}
			if strings.Contains(strings.TrimSpace(err.Error()), "\n") {
				t.Errorf("more than one line: %q", err)
			}
			sameTree(t, before, snapshot(t, root))
		})
	}
}

// In a rules folder, Falco skips what is not a regular file (seen with
// 0.32.1 and 0.44.1: a FIFO and a symlink to /dev/zero in rules.d, and
// Falco runs); rulekeeper skips them too, says so, and does its work.
func TestRulesFolderSkipsWhatFalcoSkips(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test makes a device node in a sandbox and must run as root (the test command runs it so)")
	}
	root := node032(t)
	mknod(t, root, "/dev/zero", unix.S_IFCHR, 1, 5)
	link(t, root, "/dev/zero", "/etc/falco/rules.d/10-zero.yaml")
	if err := syscall.Mkfifo(filepath.Join(root, "etc/falco/rules.d/20-fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := mustApply(t, exam(policy.InPlace), opts(root))
	notes := strings.Join(p.Notes, "\n")
	for _, w := range []string{
		"/etc/falco/rules.d/10-zero.yaml is a character device, not a regular file: Falco skips it",
		"/etc/falco/rules.d/20-fifo.yaml is a FIFO, not a regular file: Falco skips it",
	} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes:\n%s\ndo not say:\n%s", notes, w)
		}
	}
	if !strings.Contains(readNode(t, root, rulesPath), "NEW SHELL!!!") {
		t.Fatal("the edit is not in the file")
	}
	if !mustPlan(t, exam(policy.InPlace), opts(root)).Empty() {
		t.Fatal("second plan not empty")
	}
}

// An absolute symlink inside the sandbox resolves inside it: a link to
// /etc/passwd is the sandbox's /etc/passwd (missing here), never the host's.
func TestSandboxSymlinkNotHost(t *testing.T) {
	root := node032(t)
	link(t, root, "/etc/passwd", "/etc/falco/falco_rules.local.yaml")
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if _, ok := p.cur["/etc/falco/falco_rules.local.yaml"]; ok {
		t.Fatal("the link was read: it reached the host's /etc/passwd")
	}
	if !strings.Contains(readNode(t, root, rulesPath), "NEW SHELL!!!") {
		t.Fatal("the edit is not in the file")
	}
}

// A rules folder's entry that is an absolute symlink is followed inside the
// sandbox too: its target (missing on the host) is a rules file there, and
// the edit is written through it.
func TestSandboxSymlinkInRulesFolder(t *testing.T) {
	root := node032(t)
	const target = "/etc/falco/shared/team.yaml"
	writeNode(t, root, target, []byte(teamRule))
	link(t, root, target, "/etc/falco/rules.d/20-team.yaml")
	mustApply(t, policy.Desired{Rules: []policy.Rule{{Name: "Team rule", Pos: "team.hcl:1,1", Priority: ptr("ERROR")}}}, opts(root))
	if got := readNode(t, root, target); !strings.Contains(got, "priority: ERROR\n") {
		t.Fatalf("the edit is not in the link's target:\n%s", got)
	}
	if fi, err := os.Lstat(filepath.Join(root, "etc/falco/rules.d/20-team.yaml")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link is gone: %v", err)
	}
}

// A regular rules file outside /etc/falco is refused as such, not as a symlink.
func TestRegularFileOutsideConfigDir(t *testing.T) {
	root := node032(t)
	writeNode(t, root, "/opt/rules/falco_rules.yaml", []byte(readNode(t, root, rulesPath)))
	d := exam(policy.InPlace)
	d.Falco.RulesFiles = []string{"/opt/rules/falco_rules.yaml"}
	before := snapshot(t, root)
	_, err := MakePlan(d, opts(root))
	if err == nil || !strings.Contains(err.Error(), "/opt/rules/falco_rules.yaml is outside the Falco config directory /etc/falco: rulekeeper writes only under it") || strings.Contains(err.Error(), "symlink") {
		t.Fatalf("error: %v", err)
	}
	sameTree(t, before, snapshot(t, root))
}

func mknod(t *testing.T, root, p string, kind uint32, major, minor uint32) {
	t.Helper()
	h := filepath.Join(root, p)
	os.MkdirAll(filepath.Dir(h), 0o755)
	if err := unix.Mknod(h, kind|0o644, int(unix.Mkdev(major, minor))); err != nil {
		t.Fatal(err)
	}
}

// link replaces the node path p with a symlink whose text is target.
func link(t *testing.T, root, target, p string) {
	t.Helper()
	h := filepath.Join(root, p)
	os.Remove(h)
	os.MkdirAll(filepath.Dir(h), 0o755)
	if err := os.Symlink(target, h); err != nil {
		t.Fatal(err)
	}
}
