//go:build realfalco

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

// The exam, end to end with real parts: `rulekeeper apply` (the built
// program) edits a sandbox node of each real Falco version, checking the
// files with that Falco's -V, and the same Falco, replaying a capture of a
// shell opened in an nginx container, prints the exam's line.

const examCapture = "testdata/falco-traces/synthetic_terminal_shell_in_container.scap"

// examPolicy is the exam's policy with a strategy, in a folder of its own.
func examPolicy(t *testing.T, strategy string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exam, "policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), `strategy = "in_place"`, `strategy = "`+strategy+`"`, 1)
	if !strings.Contains(text, `strategy = "`+strategy+`"`) {
		t.Fatalf("%s/policy.hcl no longer sets strategy = \"in_place\"", exam)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runRK runs the built rulekeeper and returns its exit code and output.
func runRK(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

func TestRealFalcoExamReplay(t *testing.T) {
	rk := testbuild.Programs(t)
	capture, err := filepath.Abs(examCapture)
	if err != nil {
		t.Fatal(err)
	}
	// What each Falco prints for the shell once the exam's edit is in: the
	// vendor's text follows the prefix and the includes (0.44.1 appends the
	// container plugin's suggested fields to every output).
	const line = "Notice NEW SHELL!!! user_id=0 repo=nginx A shell was spawned in a container with an attached terminal "
	for _, c := range []struct {
		falco, strategy string
		written         string // the file the apply changes
		want            string // in Falco's alert
	}{
		{"0.32.1", "in_place", "/etc/falco/falco_rules.yaml", line + "(user=root user_loginuid=-1 "},
		{"0.32.1", "override", "/etc/falco/rules.d/50-rulekeeper.yaml", line + "(user=root user_loginuid=-1 "},
		{"0.40.0", "in_place", "/etc/falco/falco_rules.yaml", line + "(evt_type=execve user=root user_uid=0 "},
		{"0.40.0", "override", "/etc/falco/rules.d/50-rulekeeper.yaml", line + "(evt_type=execve user=root user_uid=0 "},
		{"0.44.1", "in_place", "/etc/falco/falco_rules.yaml", line + "| evt_type=execve user=root user_uid=0 "},
		{"0.44.1", "override", "/etc/falco/rules.d/50-rulekeeper.yaml", line + "| evt_type=execve user=root user_uid=0 "},
	} {
		t.Run(c.falco+"/"+c.strategy, func(t *testing.T) {
			bin := realfalco.Binary(t, c.falco)
			root := realfalco.Node(t, "reconcile/testdata/falco", c.falco)
			config := filepath.Join(root, "etc/falco/falco.yaml")
			// The capture fires the vendor's rule as it stands: the line
			// below is the edit's doing, not the capture's.
			before := realfalco.Replay(t, c.falco, config, capture, realfalco.RulesArgs(root)...)
			if !strings.Contains(before, "Notice A shell was spawned in a container with an attached terminal") || strings.Contains(before, "NEW SHELL") {
				t.Fatalf("Falco %s on the vendor's files:\n%s", c.falco, before)
			}

			args := []string{"apply", "--policy", examPolicy(t, c.strategy), "--root", root, "--falco", bin}
			code, out := runRK(t, rk, args...)
			if code != 0 || !strings.Contains(out, "Applied: 1 file(s) changed.") || !strings.Contains(out, c.written) {
				t.Fatalf("rulekeeper apply: exit %d, want 0 changing %s:\n%s", code, c.written, out)
			}
			alerts := realfalco.Replay(t, c.falco, config, capture, realfalco.RulesArgs(root)...)
			if n := strings.Count(alerts, "NEW SHELL!!!"); n != 1 || !strings.Contains(alerts, c.want) {
				t.Fatalf("Falco %s printed %d NEW SHELL alerts, want one with %q:\n%s", c.falco, n, c.want, alerts)
			}
			if code, out = runRK(t, rk, args...); code != 0 || !strings.Contains(out, "No changes") {
				t.Fatalf("second apply: exit %d, want 0 and no changes:\n%s", code, out)
			}
		})
	}
	t.Run("refused", func(t *testing.T) { applyRefused(t, rk) })
}

// applyRefused: a node whose falco.yaml does not load the container plugin
// cannot run falco-rules 5.x on 0.44.1; the real Falco's -V says so, and
// rulekeeper writes nothing.
func applyRefused(t *testing.T, rk string) {
	bin := realfalco.Binary(t, "0.44.1")
	root := realfalco.Node(t, "reconcile/testdata/falco", "0.44.1")
	config := filepath.Join(root, "etc/falco/falco.yaml")
	upstream, err := os.ReadFile("reconcile/testdata/falco/falco-0.44.1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, upstream, 0o644); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	vendor, _ := os.ReadFile(rules)
	code, out := runRK(t, rk, "apply", "--policy", examPolicy(t, "in_place"), "--root", root, "--falco", bin)
	if code != 1 || !strings.Contains(out, "falco -V rejects") || !strings.Contains(out, "Plugin requirement not satisfied") {
		t.Fatalf("exit %d, want 1 with Falco's refusal:\n%s", code, out)
	}
	now, _ := os.ReadFile(rules)
	if !bytes.Equal(now, vendor) {
		t.Fatal("a refused apply changed falco_rules.yaml")
	}
	if _, err := os.Stat(filepath.Join(root, "etc/falco/rules.d/50-rulekeeper.yaml")); err == nil {
		t.Fatal("a refused apply wrote the override file")
	}
}
