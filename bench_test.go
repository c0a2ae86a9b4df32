package main

import (
	"github.com/rulekeeper/rulekeeper/internal/testbuild"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

var regexpMikefarah = regexp.MustCompile(`mikefarah/yq.*version v4`)

// Whole-process benchmarks of the exam's edit on the 136 KB falco_rules.yaml
// of Falco 0.32.1: `rulekeeper apply` against `yq -i` making the same edit.
// scripts/bench.sh installs yq and runs these together, so their ratio is
// measured on the same machine in the same run.

func BenchmarkProcessApplyExam(b *testing.B) {
	bin := testbuild.Programs(b) // static, as the packages ship it
	root := sandbox(b)
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	orig, _ := os.ReadFile(rules)
	for b.Loop() {
		b.StopTimer()
		os.WriteFile(rules, orig, 0o644)
		os.RemoveAll(filepath.Join(root, "var/lib/rulekeeper"))
		syscall.Sync() // the reset's dirty pages are not the measured run's to flush
		b.StartTimer()
		if out, err := exec.Command(bin, "apply", "--policy", exam, "--root", root, "--falco", "none").CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}

// yqExam is the exam's edit as a yq expression.
const yqExam = `(.[] | select(.rule == "Terminal shell in container") | .output) |= "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository " + .`

func BenchmarkProcessYqExam(b *testing.B) {
	yq, err := exec.LookPath("yq")
	if err == nil {
		out, _ := exec.Command(yq, "--version").CombinedOutput()
		if !regexpMikefarah.Match(out) {
			err = os.ErrNotExist
		}
	}
	if err != nil {
		b.Fatal("mikefarah yq v4 is not on PATH: scripts/bench.sh installs it (go install github.com/mikefarah/yq/v4)")
	}
	root := sandbox(b)
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	orig, _ := os.ReadFile(rules)
	for b.Loop() {
		b.StopTimer()
		os.WriteFile(rules, orig, 0o644)
		syscall.Sync()
		b.StartTimer()
		if out, err := exec.Command(yq, "-i", yqExam, rules).CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}
