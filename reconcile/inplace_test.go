package reconcile

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// diffLines runs the real diff(1) and returns its changed lines.
func diffLines(t *testing.T, a, b string) []string {
	t.Helper()
	out, err := exec.Command("diff", a, b).CombinedOutput()
	// diff exits 1 when the files differ and 2 when it could not compare
	// them (a missing file): only 0 and 1 are answers.
	if ee := (*exec.ExitError)(nil); err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		t.Fatalf("diff %s %s: %v\n%s", a, b, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "<") || strings.HasPrefix(l, ">") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestExamInPlace032(t *testing.T) {
	root := node032(t)
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if len(p.Files) != 1 || p.Files[0].Path != "/etc/falco/falco_rules.yaml" {
		t.Fatalf("files: %+v", p.Files)
	}
	t.Log(p.Diff())
	got := diffLines(t, "testdata/falco/falco_rules-0.32.1.yaml", root+"/etc/falco/falco_rules.yaml")
	want := []string{"> " + "    NEW SHELL!!! user_id=%user.uid repo=%container.image.repository"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diff:\n%s", strings.Join(got, "\n"))
	}
	// Second run: nothing to do, nothing written.
	p2 := mustPlan(t, exam(policy.InPlace), opts(root))
	if !p2.Empty() {
		t.Fatalf("second plan not empty: %s", p2.Diff())
	}
}

func TestExamInPlaceNewestRules(t *testing.T) {
	for _, tc := range []struct{ name, rules string }{
		{"5.1.0", "falco_rules-5.1.0.yaml"},
		{"3.2.0", "falco_rules-3.2.0.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node(t, map[string]string{
				"/etc/falco/falco.yaml":       "falco-0.44.1.yaml",
				"/etc/falco/falco_rules.yaml": tc.rules,
			})
			mustApply(t, exam(policy.InPlace), opts(root))
			got := diffLines(t, "testdata/falco/"+tc.rules, root+"/etc/falco/falco_rules.yaml")
			if len(got) != 2 || !strings.HasPrefix(got[0], "<   output: A shell was spawned") ||
				!strings.HasPrefix(got[1], ">   output: NEW SHELL!!! user_id=%user.uid repo=%container.image.repository A shell was spawned") {
				t.Fatalf("diff:\n%s", strings.Join(got, "\n"))
			}
			if !mustPlan(t, exam(policy.InPlace), opts(root)).Empty() {
				t.Fatal("second plan not empty")
			}
		})
	}
}

// Every output of every upstream file, whatever its YAML style (folded,
// double-quoted, plain), takes a prefix and an include with a diff limited
// to that output's lines, and comes back byte for byte when the policy
// drops the rules.
func TestEveryUpstreamOutput(t *testing.T) {
	for _, rules := range []string{"falco_rules-0.32.1.yaml", "falco_rules-3.2.0.yaml", "falco_rules-5.1.0.yaml"} {
		t.Run(rules, func(t *testing.T) {
			root := node(t, map[string]string{"/etc/falco/falco_rules.yaml": rules})
			orig := readNode(t, root, "/etc/falco/falco_rules.yaml")
			items, err := cutItems([]byte(orig))
			if err != nil {
				t.Fatal(err)
			}
			d := policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace, RulesFiles: []string{"/etc/falco/falco_rules.yaml"}}}
			seen := map[string]bool{}
			for _, it := range items {
				if it.kind == "rule" && !seen[it.name] && strings.Contains(orig[it.start:it.end], "output:") {
					seen[it.name] = true
					d.Rules = append(d.Rules, policy.Rule{Name: it.name, Output: &policy.Output{Prefix: "RK!", Include: []string{"node=%evt.hostname"}}})
				}
			}
			p := mustApply(t, d, opts(root))
			if len(p.Files) != 1 || len(p.Files[0].Changes) != len(d.Rules) {
				t.Fatalf("changes: %d of %d rules", len(p.Files[0].Changes), len(d.Rules))
			}
			for _, c := range p.Files[0].Changes {
				// The include goes right after the prefix unless the vendor's text has it already.
				want := "RK! node=%evt.hostname "
				if strings.Contains(c.Old, "node=%evt.hostname") {
					want = "RK! "
				}
				if !strings.HasPrefix(c.New, want) || strings.Count(c.New, "node=%evt.hostname") != 1 {
					t.Errorf("rule %q: output %q, want it to start with %q and hold the include once", c.Rule, c.New, want)
				}
			}
			if !mustPlan(t, d, opts(root)).Empty() {
				t.Fatal("second plan not empty")
			}
			d.Rules = nil
			mustApply(t, d, opts(root))
			if readNode(t, root, "/etc/falco/falco_rules.yaml") != orig {
				t.Fatal("dropping the rules from the policy did not restore the vendor file byte for byte")
			}
			t.Logf("%d rules edited and restored", len(seen))
		})
	}
}
