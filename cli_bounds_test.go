package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

// A rules file that is a symlink to /dev/zero, or a FIFO, makes plan and
// apply fail at once with exit 1 and a message naming it, never exit 2
// ("changes") as a Go runtime out of memory would.
func TestProcessUnreadableRulesFile(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test makes a device node in a sandbox and must run as root (the test command runs it so)")
	}
	bin := testbuild.Programs(t)
	const local = "etc/falco/falco_rules.local.yaml"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root string)
		want  string
	}{
		{"symlink to /dev/zero", func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "dev"), 0o755)
			if err := unix.Mknod(filepath.Join(root, "dev/zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(root, local))
			if err := os.Symlink("/dev/zero", filepath.Join(root, local)); err != nil {
				t.Fatal(err)
			}
		}, "/" + local + ": leads to /dev/zero, a character device, not a regular file"},
		{"FIFO", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, local))
			if err := syscall.Mkfifo(filepath.Join(root, local), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "/" + local + ": a FIFO, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := sandbox(t)
			tc.setup(t, root)
			for _, args := range [][]string{{"plan"}, {"apply", "--detailed-exitcode"}} {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				args = append(args, "--policy", exam, "--root", root, "--falco", "none")
				out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
				late := ctx.Err() != nil
				cancel()
				if late {
					t.Fatalf("rulekeeper %s still ran after 20 s", args[0])
				}
				ee, ok := err.(*exec.ExitError)
				if !ok || ee.ExitCode() != exitError {
					t.Errorf("rulekeeper %s: %v, want exit 1:\n%s", args[0], err, out)
				}
				if !strings.Contains(string(out), tc.want) {
					t.Errorf("rulekeeper %s says:\n%s\nnot:\n%s", args[0], out, tc.want)
				}
			}
		})
	}
}
