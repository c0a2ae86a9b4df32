package reconcile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
	"github.com/rulekeeper/rulekeeper/policy"
)

// The exam's change on the 136 KB falco_rules.yaml of Falco 0.32.1.

func BenchmarkPlanExam032(b *testing.B) {
	root := node032(b)
	d := exam(policy.InPlace)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MakePlan(d, opts(root)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyExam032(b *testing.B) {
	root := node032(b)
	orig, _ := os.ReadFile(filepath.Join(root, "etc/falco/falco_rules.yaml"))
	d := exam(policy.InPlace)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		os.WriteFile(filepath.Join(root, "etc/falco/falco_rules.yaml"), orig, 0o644)
		os.RemoveAll(filepath.Join(root, "var/lib/rulekeeper"))
		syscall.Sync() // the reset's dirty pages are not the measured apply's to flush
		b.StartTimer()
		p, err := MakePlan(d, opts(root))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(p); err != nil || len(p.Files) != 1 {
			b.Fatal(err, len(p.Files))
		}
	}
}

// The same first apply on bytes no pass has vouched for (the upstream file
// with one comment line more): the file is parsed whole before the cut.
func BenchmarkPlanExam032Unseen(b *testing.B) {
	root := unseen032(b)
	d := exam(policy.InPlace)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MakePlan(d, opts(root)); err != nil {
			b.Fatal(err)
		}
	}
}

func unseen032(b *testing.B) string {
	root := node032(b)
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	orig, _ := os.ReadFile(rules)
	os.WriteFile(rules, append([]byte("# site copy\n"), orig...), 0o644)
	return root
}

// A pass over a node already converged: the fast path hashes the inputs.
func BenchmarkPlanConverged032(b *testing.B) {
	root := node032(b)
	d := exam(policy.InPlace)
	mustApply(b, d, opts(root))
	b.ReportAllocs()
	for b.Loop() {
		p, err := MakePlan(d, opts(root))
		if err != nil || !p.Empty() {
			b.Fatal(err)
		}
	}
}

// The floor under Apply on this disk: one durable replacement of a file of
// that size (write, fsync, rename, fsync of the directory). Apply does two:
// the rules file and the state.
func BenchmarkWriteAtomic136K(b *testing.B) {
	path := filepath.Join(b.TempDir(), "falco_rules.yaml")
	data := make([]byte, 136382)
	for b.Loop() {
		if err := atomicfile.Write(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// A whole pass over a converged node, as apply and the daemon run it: the
// plan's fast path, then Apply, which writes nothing but sweeps for the
// temporary files a killed pass would have left.
func BenchmarkPassConverged032(b *testing.B) {
	root := node032(b)
	d := exam(policy.InPlace)
	mustApply(b, d, opts(root))
	b.ReportAllocs()
	for b.Loop() {
		p, err := MakePlan(d, opts(root))
		if err != nil || !p.Empty() {
			b.Fatal(err)
		}
		if _, err := Apply(p); err != nil {
			b.Fatal(err)
		}
	}
}

// A list edit beside the exam's: `shell_binaries` loses sh and gains fish.
func BenchmarkPlanExamAndList032(b *testing.B) {
	root := node032(b)
	d := exam(policy.InPlace)
	d.Lists = []policy.List{{Name: "shell_binaries", Remove: []string{"sh"}, Add: []string{"fish"}, Pos: "b.hcl:1,1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MakePlan(d, opts(root)); err != nil {
			b.Fatal(err)
		}
	}
}

// The exam's output and an exception in the same rule: the exception's
// edit beside the output's.
func BenchmarkPlanExamAndException032(b *testing.B) {
	root := node032(b)
	d := exam(policy.InPlace)
	d.Rules[0].Exceptions = []policy.Exception{debugImage}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MakePlan(d, opts(root)); err != nil {
			b.Fatal(err)
		}
	}
}
