package reconcile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/policy"
)

const (
	vendor032 = "testdata/falco/falco_rules-0.32.1.yaml"
	rulesPath = "/etc/falco/falco_rules.yaml"
	examRule  = "Terminal shell in container"
)

// examWith is the exam policy with its rule changed by f.
func examWith(s policy.Strategy, f func(r *policy.Rule)) policy.Desired {
	d := exam(s)
	f(&d.Rules[0])
	return d
}

// vendorDiff is diff(1) between the vendor's 0.32.1 file and the node's.
func vendorDiff(t *testing.T, root string) string {
	t.Helper()
	return strings.Join(diffLines(t, vendor032, filepath.Join(root, rulesPath)), "\n")
}

const (
	outLine1 = "    A shell was spawned in a container with an attached terminal (user=%user.name user_loginuid=%user.loginuid %container.info"
	outLine2 = "    shell=%proc.name parent=%proc.pname cmdline=%proc.cmdline terminal=%proc.tty container_id=%container.id image=%container.image.repository)"
)

// Each desired state, applied to the vendor file, whatever was applied
// before it, gives exactly the diff the desired state alone would give.
func TestDeclarativeFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule func(r *policy.Rule)
		diff string // diff(1) changed lines against the vendor file
	}{
		{
			name: "new prefix replaces the old one",
			rule: func(r *policy.Rule) { r.Output.Prefix = "SHELL OPENED" },
			diff: "> " + "    SHELL OPENED user_id=%user.uid repo=%container.image.repository",
		},
		{
			name: "exclude a token",
			rule: func(r *policy.Rule) {
				r.Output = &policy.Output{Exclude: []string{"%container.info", "user_loginuid=%user.loginuid"}}
			},
			diff: "< " + outLine1 + "\n> " + "    A shell was spawned in a container with an attached terminal (user=%user.name",
		},
		{
			name: "replace the whole output",
			rule: func(r *policy.Rule) {
				r.Output = &policy.Output{Replace: ptr("shell in %container.name by %user.name (uid=%user.uid)")}
			},
			diff: "< " + outLine1 + "\n< " + outLine2 + "\n> " + "    shell in %container.name by %user.name (uid=%user.uid)",
		},
		{
			name: "priority",
			rule: func(r *policy.Rule) { r.Output = nil; r.Priority = ptr("WARNING") },
			diff: "<   priority: NOTICE\n>   priority: WARNING",
		},
		{
			name: "priority equal but for case changes nothing",
			rule: func(r *policy.Rule) { r.Output = nil; r.Priority = ptr("notice") },
			diff: "",
		},
		{
			name: "enabled false inserts one line",
			rule: func(r *policy.Rule) { r.Output = nil; r.Enabled = ptr(false) },
			diff: ">   enabled: false",
		},
		{
			name: "enabled true on a rule without the key is written out",
			rule: func(r *policy.Rule) { r.Output = nil; r.Enabled = ptr(true) },
			diff: ">   enabled: true",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := examWith(policy.InPlace, tc.rule)
			// Fresh node.
			root := node032(t)
			mustApply(t, d, opts(root))
			fresh := readNode(t, root, rulesPath)
			if got := vendorDiff(t, root); got != tc.diff {
				t.Fatalf("diff against the vendor file:\n%s\nwant:\n%s", got, tc.diff)
			}
			if !mustPlan(t, d, opts(root)).Empty() {
				t.Fatal("second plan is not empty")
			}
			// A node where the exam policy was applied first: same bytes.
			root = node032(t)
			mustApply(t, exam(policy.InPlace), opts(root))
			mustApply(t, d, opts(root))
			if got := readNode(t, root, rulesPath); got != fresh {
				t.Fatalf("after the exam policy then this one, the file differs from applying this one alone:\n%s", vendorDiff(t, root))
			}
			// Dropping the rule from the policy gives the vendor's bytes back.
			mustApply(t, policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}}, opts(root))
			if got := vendorDiff(t, root); got != "" {
				t.Fatalf("rule dropped from the policy, the file still differs from the vendor's:\n%s", got)
			}
		})
	}
}

// The plan says what changes, as Falco reads it, and why.
func TestPlanChangesReasons(t *testing.T) {
	root := node032(t)
	p := mustApply(t, exam(policy.InPlace), opts(root))
	c := p.Files[0].Changes
	if len(c) != 1 || c[0].Rule != examRule || c[0].Field != "output" || c[0].Reason != ReasonPolicy || c[0].Line != 2023 {
		t.Fatalf("changes: %+v", c)
	}
	if !strings.HasPrefix(c[0].New, "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository A shell was spawned") {
		t.Fatalf("new output %q", c[0].New)
	}
	p = mustPlan(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Output = nil; r.Priority = ptr("ERROR") }), opts(root))
	got := map[string]string{}
	for _, c := range p.Files[0].Changes {
		got[c.Field] = c.Reason
	}
	if got["output"] != ReasonRestore || got["priority"] != ReasonPolicy || len(got) != 2 {
		t.Fatalf("reasons: %v", got)
	}
}

// Applying twice writes nothing the second time: neither the rules file
// nor the state.
func TestApplyTwiceWritesNothing(t *testing.T) {
	root := node032(t)
	mustApply(t, exam(policy.InPlace), opts(root))
	files := []string{
		filepath.Join(root, rulesPath),
		filepath.Join(root, "var/lib/rulekeeper/state.json"),
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, f := range files {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	ino := inode(t, files[0])
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if !p.Empty() {
		t.Fatalf("second plan: %s", p.Diff())
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s was written on the second apply (mtime %s)", f, fi.ModTime())
		}
	}
	if inode(t, files[0]) != ino {
		t.Error("the rules file was replaced on the second apply")
	}
}

// The plan of the exam policy, as `plan` prints it and as data.
func TestExamPlanGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		root func(testing.TB) string
	}{
		{"exam-0.32.1", node032},
		{"exam-0.44.1", node044},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, exam(policy.InPlace), opts(tc.root(t)))
			golden(t, tc.name+"/plan.diff", p.Diff())
			golden(t, tc.name+"/plan.summary", p.Summary())
			js, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+"/plan.json", string(js)+"\n")
		})
	}
}
