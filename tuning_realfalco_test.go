//go:build realfalco

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

const teamExample = "examples/team-tuning"

// The tuning example works on every real Falco: `rulekeeper apply` (its
// `falco -V` gate included) writes the list edit and the exception (in place
// before 0.37, a drop-in after) and the team's rules file, the same Falco lists the team's
// rule, and a second apply changes nothing.
func TestRealFalcoTuningExample(t *testing.T) {
	rk := testbuild.Programs(t)
	const item = "registry.example.com/payments/node-agent"
	for _, c := range []struct {
		falco, listIn string // the file that carries the list's new item
	}{
		{"0.32.1", "/etc/falco/falco_rules.yaml"},
		{"0.40.0", "/etc/falco/rules.d/50-rulekeeper.yaml"},
		{"0.44.1", "/etc/falco/rules.d/50-rulekeeper.yaml"},
	} {
		t.Run(c.falco, func(t *testing.T) {
			bin := realfalco.Binary(t, c.falco)
			root := realfalco.Node(t, "reconcile/testdata/falco", c.falco)
			args := []string{"apply", "--policy", teamExample, "--root", root, "--falco", bin}
			code, out := runRK(t, rk, args...)
			if code != 0 || !strings.Contains(out, "/etc/falco/rules.d/60-payments.yaml") || !strings.Contains(out, c.listIn) {
				t.Fatalf("rulekeeper apply: exit %d, want 0 writing the team's file and %s:\n%s", code, c.listIn, out)
			}
			b, err := os.ReadFile(filepath.Join(root, c.listIn))
			if err != nil || !strings.Contains(string(b), item) || !strings.Contains(string(b), "- name: payments_debug\n") {
				t.Fatalf("%s does not carry %s and the exception payments_debug: %v", c.listIn, item, err)
			}
			config := filepath.Join(root, "etc/falco/falco.yaml")
			listed, errOut, code := realfalco.Run(t, bin, append([]string{"-c", config, "-L"}, realfalco.RulesArgs(root)...)...)
			if code != 0 || !strings.Contains(listed, "Package manager in a payments container") {
				t.Fatalf("falco -L does not list the team's rule (exit %d):\n%s%s", code, listed, errOut)
			}
			if code, out = runRK(t, rk, args...); code != 0 || !strings.Contains(out, "No changes") {
				t.Fatalf("second apply: exit %d, want 0 and no changes:\n%s", code, out)
			}
		})
	}
}
