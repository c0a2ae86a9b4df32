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

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

var regexpMikefarah = regexp.MustCompile(`mikefarah/yq.*version v4`)

// yqExam is the exam's edit as a yq expression.
const yqExam = `(.[] | select(.rule == "Terminal shell in container") | .output) |= "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository " + .`

// BenchmarkProcessApplyExam is the exam's edit on the 136 KB
// falco_rules.yaml of Falco 0.32.1 as a whole process: `rulekeeper apply`
// (the static build the packages ship, a first apply: no state yet) against
// `yq -i` making the same edit. The two take turns in blocks of 25 runs, each
// block after one run that is not counted, as hyperfine warms up: drift on a
// shared machine falls on both, and neither is timed in the wake of the
// other (a run right after yq's is 0.4 ms slower, its caches spent). Each
// run starts from fresh copies. It reports the median of each and their
// ratio; ns/op counts both tools and is not the figure.
// scripts/bench.sh installs yq.
//
// "stock" is the upstream file byte for byte, whose full parse the program
// vouches for by its hash; "unseen" is the same file with one comment line
// more, which a first apply parses whole, as it does any file it has not
// seen before.
func BenchmarkProcessApplyExam(b *testing.B) {
	yq := findYq(b)
	bin := testbuild.Programs(b)
	for _, tc := range []struct{ name, extra string }{{"stock", ""}, {"unseen", "# a local note\n"}} {
		b.Run(tc.name, func(b *testing.B) { processApply(b, bin, yq, tc.extra) })
	}
}

func processApply(b *testing.B, bin, yq, extra string) {
	root := sandbox(b)
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	orig, err := os.ReadFile(rules)
	if err != nil {
		b.Fatal(err)
	}
	orig = append(orig, extra...)
	tools := []*exec.Cmd{
		exec.Command(bin, "apply", "--policy", exam, "--root", root, "--falco", "none"),
		exec.Command(yq, "-i", yqExam, rules),
	}
	run := func(c *exec.Cmd) time.Duration {
		b.StopTimer()
		os.WriteFile(rules, orig, 0o644)
		os.RemoveAll(filepath.Join(root, "var/lib/rulekeeper"))
		syscall.Sync() // the reset's dirty pages are not the measured run's to flush
		b.StartTimer()
		cmd := exec.Command(c.Path, c.Args[1:]...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", c.Path, err, out)
		}
		return time.Since(start)
	}
	const block = 25
	times := make([][]time.Duration, len(tools))
	i := 0
	for b.Loop() {
		t := (i / block) % len(tools)
		if i%block == 0 {
			run(tools[t]) // the block's warm-up
		}
		times[t] = append(times[t], run(tools[t]))
		i++
	}
	if len(times[1]) == 0 {
		b.Fatalf("-benchtime %dx is less than one block of each tool: use at least %dx", i, 2*block)
	}
	rk, y := median(times[0]), median(times[1])
	b.ReportMetric(ms(rk), "rulekeeper-ms")
	b.ReportMetric(ms(y), "yq-ms")
	b.ReportMetric(float64(y)/float64(rk), "x-faster")
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
