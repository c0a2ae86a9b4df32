package reconcile

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// diffLines runs the real diff(1) and returns its changed lines.
func diffLines(t *testing.T, a, b string) []string {
	t.Helper()
	out, _ := exec.Command("diff", a, b).CombinedOutput()
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
