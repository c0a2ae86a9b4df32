package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

// The daemon's footprint, as a process: RSS after start and after 3,600
// polls (10 ms apart, a file:// repository), and CPU over a 60 s idle
// window at the default 30 s interval. Run with -benchtime=1x.
func BenchmarkIdleFootprint(b *testing.B) {
	bin := testbuild.Programs(b)
	for b.Loop() {
		start, after, polls := footprintPolls(b, bin)
		b.ReportMetric(start, "rss-start-MB")
		b.ReportMetric(after, "rss-after-polls-MB")
		b.ReportMetric(float64(polls), "polls")
		cpu, rss := footprintIdle(b, bin)
		b.ReportMetric(cpu, "cpu-ms/60s-idle")
		b.ReportMetric(rss, "rss-idle-MB")
	}
}

type daemonProc struct {
	cmd     *exec.Cmd
	metrics string
}

func startDaemonProc(b *testing.B, bin, interval string) *daemonProc {
	root := sandbox(b)
	dir := b.TempDir()
	repo := filepath.Join(dir, "repo")
	os.Mkdir(repo, 0o755)
	policy, _ := os.ReadFile(exam + "/policy.hcl")
	os.WriteFile(filepath.Join(repo, "policy.hcl"), policy, 0o644)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "exam"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v (Debian package git): %v\n%s", args, err, out)
		}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`source {
  url      = "file://%s"
  interval = %q
}
falco   { binary = "none" }
metrics { listen = %q }
`, repo, interval, addr)), 0o644)
	cmd := exec.Command(bin, "run", "--config", cfg, "--root", root)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &daemonProc{cmd: cmd, metrics: "http://" + addr + "/metrics"}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for p.passes() < 1 {
		if time.Now().After(deadline) {
			b.Fatal("the daemon did not finish a pass within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *daemonProc) passes() int {
	resp, err := http.Get(p.metrics)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), `rulekeeper_passes_total{result="success"} `); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return -1
}

func (p *daemonProc) rssMB(b *testing.B) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// cpuMS is the process's user+system CPU time so far.
func (p *daemonProc) cpuMS(b *testing.B) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return float64(ut+st) * 10 // USER_HZ is 100 on Linux
}

func footprintPolls(b *testing.B, bin string) (start, after float64, polls int) {
	p := startDaemonProc(b, bin, "10ms")
	time.Sleep(time.Second)
	start = p.rssMB(b)
	first := p.passes()
	deadline := time.Now().Add(10 * time.Minute)
	for p.passes()-first < 3600 {
		if time.Now().After(deadline) {
			b.Fatal("3,600 polls took over 10 minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}
	return start, p.rssMB(b), p.passes() - first
}

func footprintIdle(b *testing.B, bin string) (cpuMS, rss float64) {
	p := startDaemonProc(b, bin, "30s")
	time.Sleep(2 * time.Second)
	c0 := p.cpuMS(b)
	time.Sleep(60 * time.Second)
	return p.cpuMS(b) - c0, p.rssMB(b)
}
