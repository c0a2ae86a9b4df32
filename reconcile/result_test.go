package reconcile

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/policy"
)

// fakeFalco writes a shell script that stands in for falco and returns its
// path; body runs under /bin/sh.
func fakeFalco(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "falco")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A pass's result names the files it wrote and, apart, those it removed:
// going from the override strategy to in-place removes rulekeeper's own
// file and writes the vendor's.
func TestResultNamesRemovedFiles(t *testing.T) {
	root := node032(t)
	o := at(root, "0.32.1")
	res, err := Apply(mustPlan(t, exam(policy.Override), o))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Written, []string{policy.DefaultOverrideFile}) || res.Removed != nil {
		t.Fatalf("override pass: written %v, removed %v", res.Written, res.Removed)
	}
	res, err = Apply(mustPlan(t, exam(policy.InPlace), o))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Written, []string{rulesPath}) || !slices.Equal(res.Removed, []string{policy.DefaultOverrideFile}) {
		t.Fatalf("in-place pass: written %v, removed %v; want written [%s], removed [%s]", res.Written, res.Removed, rulesPath, policy.DefaultOverrideFile)
	}
	if _, err := os.Stat(filepath.Join(root, policy.DefaultOverrideFile)); !os.IsNotExist(err) {
		t.Fatalf("the override file is still there: %v", err)
	}
}

// Falco checks only a pass that changes files: a converged pass does not
// run it (the converged path does no work), and says it did not.
func TestConvergedPassRunsNoFalco(t *testing.T) {
	root := node032(t)
	ran := filepath.Join(t.TempDir(), "ran")
	o := at(root, "0.32.1")
	o.FalcoBinary = fakeFalco(t, "echo \"$@\" >> "+ran)
	res, err := Apply(mustPlan(t, exam(policy.InPlace), o))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ran); err != nil || !res.Checked {
		t.Fatalf("the first pass did not run falco -V (checked %v): %v", res.Checked, err)
	}
	os.Remove(ran)
	p := mustPlan(t, exam(policy.InPlace), o)
	if len(p.Files) != 0 {
		t.Fatalf("second pass not converged: %d files", len(p.Files))
	}
	res, err = Apply(p)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(ran); err == nil || res.Checked {
		t.Fatalf("a converged pass ran falco (checked %v): %s", res.Checked, b)
	}
}

// A pass that writes files records when and which in the state; a pass that
// changes none (a new policy text with the same result) keeps that record.
func TestStateRecordsTheLastPassThatWrote(t *testing.T) {
	root := node032(t)
	o := at(root, "0.32.1")
	o.Revision = "r1"
	mustApply(t, exam(policy.InPlace), o)
	st, err := LoadState(filepath.Join(root, o.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied == nil || st.Applied.Revision != "r1" || !slices.Equal(st.Applied.Files, []string{rulesPath}) {
		t.Fatalf("after a pass that wrote %s the state records %+v", rulesPath, st.Applied)
	}
	o.Revision = "r2"
	d := exam(policy.InPlace)
	d.Rules[0].Pos = "policy.hcl:7,1" // the policy text moved; the files stay
	p := mustPlan(t, d, o)
	if len(p.Files) != 0 {
		t.Fatalf("the moved rule changes %d files", len(p.Files))
	}
	if _, err := Apply(p); err != nil {
		t.Fatal(err)
	}
	st2, err := LoadState(filepath.Join(root, o.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	if st2.Inputs == st.Inputs {
		t.Fatal("the state records the same inputs: the pass did not take the new policy text")
	}
	if st2.Applied == nil || st2.Applied.Revision != "r1" || !st2.Applied.Time.Equal(st.Applied.Time) {
		t.Fatalf("a pass that wrote nothing replaced the record of the last one: %+v, was %+v", st2.Applied, st.Applied)
	}
}

// What Falco says goes into the error bounded: the first 16 KiB, then how
// much more there was. A short answer comes whole, with no such note.
func TestFalcoOutputBounded(t *testing.T) {
	for _, tc := range []struct {
		name, body, want, not string
		xs                    int
	}{
		// Five writes, apart: the cap holds across writes, not only within one.
		{"long", "for i in 1 2 3 4 5; do head -c 4000 /dev/zero | tr '\\0' x; sleep 0.05; done; exit 1", "\n… 3616 more bytes", "", maxFalcoOutput},
		{"short", "echo LOAD_ERR; exit 1", "LOAD_ERR", "more bytes", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			o := at(root, "0.32.1")
			o.FalcoBinary = fakeFalco(t, tc.body)
			before := snapshot(t, root)
			_, err := Apply(mustPlan(t, exam(policy.InPlace), o))
			if err == nil {
				t.Fatal("a falco that fails let the pass through")
			}
			msg := err.Error()
			if !strings.HasSuffix(msg, tc.want) || (tc.not != "" && strings.Contains(msg, tc.not)) {
				t.Fatalf("error ends %q, want it to end %q (and not say %q)", msg[max(0, len(msg)-80):], tc.want, tc.not)
			}
			if tc.xs != 0 && (!strings.Contains(msg, strings.Repeat("x", tc.xs)) || strings.Contains(msg, strings.Repeat("x", tc.xs+1))) {
				t.Fatalf("the error does not hold exactly %d bytes of Falco's output", tc.xs)
			}
			sameTree(t, before, snapshot(t, root))
		})
	}
}

// A falco that exits but leaves a child holding its output open does not
// hold the pass: the output is given up 5 s after falco exits.
func TestFalcoChildHoldingTheOutput(t *testing.T) {
	t.Parallel()
	pid := filepath.Join(t.TempDir(), "pid")
	root := node032(t)
	o := at(root, "0.32.1")
	o.FalcoBinary = fakeFalco(t, "echo LOAD_ERR; sleep 60 & echo $! > "+pid+"; exit 1")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pid); err == nil {
			exec.Command("kill", strings.TrimSpace(string(b))).Run()
		}
	})
	start := time.Now()
	_, err := Apply(mustPlan(t, exam(policy.InPlace), o))
	if took := time.Since(start); took > 30*time.Second || err == nil || !strings.Contains(err.Error(), "LOAD_ERR") {
		t.Fatalf("after %v: %v", took, err)
	}
}
