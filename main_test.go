package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

// sandbox copies the example's Falco 0.32.1 node into a temporary root.
func sandbox(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("examples/cks-terminal-shell/node")); err != nil {
		t.Fatal(err)
	}
	return root
}

func rk(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

const exam = "examples/cks-terminal-shell"

func TestExamPlanApplyPlan(t *testing.T) {
	root := sandbox(t)
	common := []string{"--policy", exam, "--root", root, "--falco", "none"}
	code, out, errs := rk(append([]string{"plan"}, common...)...)
	if code != exitChanges {
		t.Fatalf("plan exit %d, want 2: %s %s", code, out, errs)
	}
	if !strings.Contains(out, "+    NEW SHELL!!! user_id=%user.uid repo=%container.image.repository\n") {
		t.Fatalf("plan diff:\n%s", out)
	}
	code, out, errs = rk(append([]string{"apply"}, common...)...)
	if code != exitOK || !strings.Contains(out, "Applied: 1 file(s) changed.") {
		t.Fatalf("apply exit %d: %s %s", code, out, errs)
	}
	rules, _ := os.ReadFile(filepath.Join(root, "etc/falco/falco_rules.yaml"))
	if !strings.Contains(string(rules), "  output: >\n    NEW SHELL!!! user_id=%user.uid repo=%container.image.repository\n    A shell was spawned") {
		t.Fatal("the rules file does not carry the exam's output")
	}
	code, out, _ = rk(append([]string{"apply", "--detailed-exitcode"}, common...)...)
	if code != exitOK || !strings.Contains(out, "No changes") {
		t.Fatalf("second apply exit %d: %s", code, out)
	}
	code, _, _ = rk(append([]string{"plan"}, common...)...)
	if code != exitOK {
		t.Fatalf("plan after apply exit %d, want 0", code)
	}
}

func TestPlanJSON(t *testing.T) {
	root := sandbox(t)
	code, out, errs := rk("plan", "--json", "--policy", exam, "--root", root, "--falco", "none")
	if code != exitChanges {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var p struct {
		Changes bool
		Files   []struct {
			Path, Action, Diff string
			Changes            []struct{ Rule, Field, Old, New, Reason string }
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if !p.Changes || len(p.Files) != 1 || p.Files[0].Action != "update" || len(p.Files[0].Changes) != 1 {
		t.Fatalf("%+v", p)
	}
	c := p.Files[0].Changes[0]
	if !strings.HasPrefix(c.New, "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository A shell was spawned") || c.Reason != "policy" {
		t.Fatalf("change %+v", c)
	}
}

func TestPlanErrors(t *testing.T) {
	root := sandbox(t)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "p.hcl"), []byte(`rule "Terminal shell in container" {
  output {
    prefix = "NEW SHELL!!! user_id=%user.uidd"
  }
}
`), 0o644)
	code, _, errs := rk("plan", "--policy", bad, "--root", root, "--falco", "none")
	if code != exitError || !strings.Contains(errs, "p.hcl line 3") || !strings.Contains(errs, "Did you mean %user.uid?") {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	missing := t.TempDir()
	os.WriteFile(filepath.Join(missing, "p.hcl"), []byte("rule \"No such rule\" {\n  priority = \"DEBUG\"\n}\n"), 0o644)
	code, _, errs = rk("apply", "--policy", missing, "--root", root, "--falco", "none")
	if code != exitError || !strings.Contains(errs, `rule "No such rule" is not defined in any rules file Falco loads; searched /etc/falco/falco_rules.yaml, /etc/falco/falco_rules.local.yaml`) {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	orig, _ := os.ReadFile("examples/cks-terminal-shell/node/etc/falco/falco_rules.yaml")
	now, _ := os.ReadFile(filepath.Join(root, "etc/falco/falco_rules.yaml"))
	if !bytes.Equal(orig, now) {
		t.Fatal("a failed apply changed the rules file")
	}
}

func TestValidate(t *testing.T) {
	if code, out, errs := rk("validate", exam); code != exitOK || !strings.Contains(out, "Success!") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.hcl"), []byte(`rule "Terminal shell in container" {
  output {
    prefix  = "NEW SHELL!!!"
    include = ["user_id=%user.uidd"]
    replace = "x"
  }
  priority = "NOTIC"
  bogus = 1
}
`), 0o644)
	code, out, _ := rk("validate", "--json", bad)
	if code != exitError {
		t.Fatalf("exit %d", code)
	}
	var v struct {
		Valid       bool `json:"valid"`
		ErrorCount  int  `json:"error_count"`
		Diagnostics []struct {
			Summary string
			Range   struct {
				Filename string
				Start    struct{ Line, Column int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Valid || v.ErrorCount < 3 {
		t.Fatalf("want every problem at once, got %+v", v)
	}
	for _, d := range v.Diagnostics {
		if d.Range.Filename == "" || d.Range.Start.Line == 0 {
			t.Errorf("diagnostic without a position: %+v", d)
		}
	}
}

// The command as users run it: a real process, real exit codes.
func TestProcessExitCodes(t *testing.T) {
	bin := testbuild.Programs(t)
	root := sandbox(t)
	for _, step := range []struct {
		args []string
		want int
	}{
		{[]string{"plan", "--policy", exam, "--root", root, "--falco", "none"}, 2},
		{[]string{"apply", "--detailed-exitcode", "--policy", exam, "--root", root, "--falco", "none"}, 2},
		{[]string{"apply", "--detailed-exitcode", "--policy", exam, "--root", root, "--falco", "none"}, 0},
		{[]string{"plan", "--policy", exam, "--root", root, "--falco", "none"}, 0},
		{[]string{"plan", "--policy", "/nonexistent", "--root", root}, 1},
		{[]string{"frobnicate"}, 1},
	} {
		err := exec.Command(bin, step.args...).Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != step.want {
			t.Errorf("rulekeeper %s: exit %d, want %d", strings.Join(step.args, " "), code, step.want)
		}
	}
}
