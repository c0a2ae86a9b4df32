package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

func TestValidateConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	os.WriteFile(good, []byte("source {\n  url = \"https://git.example.com/p.git\"\n  interval = \"1m\"\n}\n"), 0o644)
	code, out, errs := rk("validate", "--config", good)
	if code != exitOK || !strings.Contains(out, "Success! The agent configuration") {
		t.Fatalf("good config: exit %d\n%s%s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("source {\n  url = \"https://git.example.com/p.git\"\n  interval = \"soon\"\n}\ndrift { mode = \"fix\" }\n"), 0o644)
	code, out, errs = rk("validate", "--config", bad)
	if code != exitError || !strings.Contains(errs, "Invalid duration for interval") || !strings.Contains(errs, "on "+bad+" line 3") ||
		!strings.Contains(errs, "on "+bad+" line 5") {
		t.Fatalf("bad config: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = rk("validate", "--config", bad, "--json")
	var doc struct {
		Valid       bool
		Diagnostics []struct {
			Summary string
			Range   struct {
				Filename string
				Start    struct{ Line, Column int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitError || doc.Valid || len(doc.Diagnostics) != 2 {
		t.Fatalf("json: exit %d %v\n%s", code, err, out)
	}
	if d := doc.Diagnostics[0]; d.Range.Filename != bad || d.Range.Start.Line != 3 || d.Range.Start.Column != 14 {
		t.Fatalf("json range: %+v", d)
	}
}

// The daemon as a process: converges, passes on SIGHUP, exits 0 on
// SIGTERM; status reads what it left.
func TestRunProcess(t *testing.T) {
	bin := testbuild.Programs(t)
	root := sandbox(t)
	dir := t.TempDir()
	policy, _ := os.ReadFile(exam + "/policy.hcl")
	os.Mkdir(filepath.Join(dir, "policy"), 0o755)
	os.WriteFile(filepath.Join(dir, "policy", "policy.hcl"), policy, 0o644)
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte("policy_dir = \"policy\"\ninterval = \"1h\"\nfalco { binary = \"none\" }\nlog { format = \"json\" }\n"), 0o644)

	var logs strings.Builder
	cmd := exec.Command(bin, "run", "--config", cfg, "--root", root)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	waitFile := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(rules)
			if strings.Contains(string(b), what) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q never appeared in the rules file; log:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFile("    NEW SHELL!!! user_id=%user.uid")
	os.WriteFile(filepath.Join(dir, "policy", "policy.hcl"), []byte(strings.Replace(string(policy), `prefix  = "NEW SHELL!!!"`, `prefix  = "HUP!"`, 1)), 0o644)
	time.Sleep(50 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFile("    HUP! user_id=%user.uid")

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; log:\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
	if !strings.Contains(logs.String(), `"msg":"rulekeeper stopped"`) {
		t.Fatalf("log:\n%s", logs.String())
	}

	code, out, errs := rk("status", "--root", root)
	if code != exitOK || !strings.Contains(out, "Drift mode: restore") || !strings.Contains(out, `rule "Terminal shell in container" output`) {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = rk("status", "--root", root, "--json")
	var st struct {
		Daemon struct {
			DriftMode string `json:"drift_mode"`
		}
		Managed map[string]any
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != exitOK || st.Daemon.DriftMode != "restore" || st.Managed["/etc/falco/falco_rules.yaml"] == nil {
		t.Fatalf("status --json: exit %d %v\n%s", code, err, out)
	}
	code, _, errs = rk("status", "--root", t.TempDir())
	if code != exitError || !strings.Contains(errs, "no rulekeeper state") {
		t.Fatalf("status of an empty root: exit %d %s", code, errs)
	}
}

// `rulekeeper run` without rulekeeperd beside it says what to install.
func TestRunWithoutAgent(t *testing.T) {
	code, _, errs := rk("run", "--config", "/nonexistent.hcl")
	if code != exitError || !strings.Contains(errs, "rulekeeper run starts") || !strings.Contains(errs, "rulekeeperd") ||
		!strings.Contains(errs, "go build") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
}
