package reconcile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// The helper process runs one pass of the exam policy over the root named
// in its environment, as another rulekeeper would: it prints the error and
// exits 3 when the pass fails.
const helperEnv = "RULEKEEPER_TEST_HELPER_ROOT"

func TestHelperProcess(t *testing.T) {
	root := os.Getenv(helperEnv)
	if root == "" {
		return // not a helper: nothing to do
	}
	o := opts(root)
	if os.Getenv("RULEKEEPER_TEST_HELPER_LOCK") != "" {
		unlock, err := Lock(o.StatePath())
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		defer unlock()
		fmt.Println("locked")
	}
	p, err := MakePlan(exam(policy.InPlace), o)
	if err == nil {
		_, err = Apply(p)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	fmt.Println("applied")
	os.Exit(0)
}

// helper returns the command that runs one pass over root in a new process.
func helper(t *testing.T, bin, root string) *exec.Cmd {
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+root)
	cmd.Dir = "/"
	return cmd
}

const nobody = 65534

// copyTestBinary puts the test binary where the unprivileged user can run it.
func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	bin := filepath.Join(dir, "reconcile.test")
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// As an unprivileged user, permission errors surface as one clear message
// naming the file, and nothing is lost. (As root, file permissions do not
// bite; the pass runs in a process with nobody's credentials.)
func TestPermissionDenied(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test switches to the user nobody and must run as root (the test command runs it so)")
	}
	base, err := os.MkdirTemp("", "rulekeeper-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := copyTestBinary(t, base)

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root string)
		// wantErr is in the message; "" means the pass succeeds.
		wantErr []string
		// changed: the rules file carries the edit afterwards.
		changed bool
	}{
		{
			name: "unreadable rules file",
			setup: func(t *testing.T, root string) {
				chmod(t, root, rulesPath, 0o600)
			},
			wantErr: []string{rulesPath + ": open ", "permission denied", "run rulekeeper as root, or give it read and write access"},
		},
		{
			name: "read-only rules file",
			setup: func(t *testing.T, root string) {
				chmod(t, root, rulesPath, 0o644)
			},
			wantErr: []string{rulesPath + ": ", "permission denied", "run rulekeeper as root, or give it write access"},
		},
		{
			name: "unreadable rules directory",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, "/etc/falco/rules.d/10-site.yaml", []byte(redefined("site")))
				chmod(t, root, "/etc/falco/rules.d", 0o700)
			},
			wantErr: []string{"/etc/falco/rules.d: open ", "permission denied", "run rulekeeper as root"},
		},
		{
			name: "state directory not writable: no rules file is touched",
			setup: func(t *testing.T, root string) {
				for _, p := range []string{"/etc/falco", rulesPath, "/etc/falco/falco_rules.local.yaml", "/etc/falco/falco.yaml", "/etc/falco/rules.d"} {
					chown(t, root, p, nobody)
				}
				if err := os.MkdirAll(filepath.Join(root, "var/lib/rulekeeper"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"saving state", "permission denied", "give it write access"},
		},
		{
			// The override file of an earlier pass is to go, from a folder the pass cannot
			// write: refused before anything is written, the in-place edit included.
			name: "a file to remove in a folder it cannot write",
			setup: func(t *testing.T, root string) {
				if err := os.MkdirAll(filepath.Join(root, "var/lib/rulekeeper"), 0o755); err != nil {
					t.Fatal(err)
				}
				mustApply(t, exam(policy.Override), opts(root))
				for _, p := range []string{"/etc/falco", rulesPath, "/etc/falco/falco_rules.local.yaml", "/etc/falco/falco.yaml", policy.DefaultOverrideFile} {
					chown(t, root, p, nobody)
				}
				if err := filepath.WalkDir(filepath.Join(root, "var/lib/rulekeeper"), func(p string, _ fs.DirEntry, err error) error {
					if err == nil {
						err = os.Chown(p, nobody, nobody)
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"/etc/falco/rules.d", "permission denied"},
		},
		{
			name: "everything writable: the pass works",
			setup: func(t *testing.T, root string) {
				for _, p := range []string{"/etc/falco", rulesPath, "/etc/falco/falco_rules.local.yaml", "/etc/falco/falco.yaml", "/etc/falco/rules.d"} {
					chown(t, root, p, nobody)
				}
				if err := os.MkdirAll(filepath.Join(root, "var/lib/rulekeeper"), 0o755); err != nil {
					t.Fatal(err)
				}
				chown(t, root, "/var/lib/rulekeeper", nobody)
			},
			changed: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := os.MkdirTemp(base, "root-")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(root, 0o755); err != nil {
				t.Fatal(err)
			}
			for dst, src := range map[string]string{
				"/etc/falco/falco.yaml":             "falco-0.32.1.yaml",
				rulesPath:                           "falco_rules-0.32.1.yaml",
				"/etc/falco/falco_rules.local.yaml": "falco_rules.local-0.32.1.yaml",
			} {
				b, err := os.ReadFile(filepath.Join("testdata/falco", src))
				if err != nil {
					t.Fatal(err)
				}
				writeNode(t, root, dst, b)
			}
			os.MkdirAll(filepath.Join(root, "etc/falco/rules.d"), 0o755)
			tc.setup(t, root)
			vendor := readNode(t, root, rulesPath)
			before := snapshot(t, root)
			untouched := heldOpen(t, root, rulesPath)

			cmd := helper(t, bin, root)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			out, err := cmd.CombinedOutput()
			msg := strings.TrimSpace(string(out))
			t.Logf("as nobody: %s", msg)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("pass as nobody failed: %v\n%s", err, msg)
				}
				if got := readNode(t, root, rulesPath); got == vendor || !strings.Contains(got, "NEW SHELL!!!") {
					t.Fatal("the edit is not in the file")
				}
				noTemps(t, root)
				return
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Fatalf("want the pass to fail with exit 3, got %v:\n%s", err, msg)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("message:\n%s\ndoes not say:\n%s", msg, w)
				}
			}
			if readNode(t, root, rulesPath) != vendor {
				t.Fatal("the rules file changed")
			}
			noTemps(t, root)
			untouched()
			sameTree(t, before, snapshot(t, root))
		})
	}
}

func chmod(t *testing.T, root, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(filepath.Join(root, p), mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, root, p string, id int) {
	t.Helper()
	if err := os.Chown(filepath.Join(root, p), id, id); err != nil {
		t.Fatal(err)
	}
}
