package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testbuild"
)

var regexpMikefarah = regexp.MustCompile(`mikefarah/yq.*version v4`)

// yqExam is the exam's edit as a yq expression.
const yqExam = `(.[] | select(.rule == "Terminal shell in container") | .output) |= "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository " + .`

// BenchmarkProcessApplyExam is the exam's edit on the 136 KB
// falco_rules.yaml of Falco 0.32.1 as a whole process: `rulekeeper apply`
// (the static build the packages ship, first apply: no state yet) against
// `yq -i` making the same edit. Each iteration runs both, one after the
// other on fresh copies, so that the noise of a shared machine falls on both
// alike; ns/op is the pair. It reports the median of each and their ratio.
// scripts/bench.sh installs yq.
func BenchmarkProcessApplyExam(b *testing.B) {
	yq := findYq(b)
	bin := testbuild.Programs(b)
	rkRoot, yqRoot := sandbox(b), sandbox(b)
	const rules = "etc/falco/falco_rules.yaml"
	orig, err := os.ReadFile(filepath.Join(rkRoot, rules))
	if err != nil {
		b.Fatal(err)
	}
	timed := func(reset func(), name string, args ...string) time.Duration {
		b.StopTimer()
		reset()
		syscall.Sync() // the reset's dirty pages are not the measured run's to flush
		b.StartTimer()
		start := time.Now()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	var rk, y []time.Duration
	for b.Loop() {
		rk = append(rk, timed(func() {
			os.WriteFile(filepath.Join(rkRoot, rules), orig, 0o644)
			os.RemoveAll(filepath.Join(rkRoot, "var/lib/rulekeeper"))
		}, bin, "apply", "--policy", exam, "--root", rkRoot, "--falco", "none"))
		y = append(y, timed(func() {
			os.WriteFile(filepath.Join(yqRoot, rules), orig, 0o644)
		}, yq, "-i", yqExam, filepath.Join(yqRoot, rules)))
	}
	rkMed, yqMed := median(rk), median(y)
	b.ReportMetric(ms(rkMed), "rulekeeper-ms")
	b.ReportMetric(ms(yqMed), "yq-ms")
	b.ReportMetric(float64(yqMed)/float64(rkMed), "x-faster")
}

func findYq(b *testing.B) string {
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
	return yq
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
