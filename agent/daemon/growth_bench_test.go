package daemon

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/scrape"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// growthAt are the poll counts at which memory is sampled: a figure that
// keeps rising from one to the next is a leak, one that levels off is not.
var growthAt = []int64{1000, 2000, 4000, 8000}

// Memory over many no-change polls (10 ms apart) of a daemon in this
// process: Go heap in use after a GC, goroutines and open files at each of
// growthAt. -benchtime=1x.
func BenchmarkPollGrowthInProcess(b *testing.B) {
	for _, proto := range []string{"file", "git"} {
		b.Run(proto, func(b *testing.B) {
			for b.Loop() {
				l := newLab(b, labOpts{interval: "10ms"})
				cfg := l.config()
				if proto == "git" {
					srv := gitserve.StartDaemon(b, filepath.Dir(l.repo))
					cfg.Source.URL = srv.URL(filepath.Base(l.repo))
				}
				d, err := New(cfg, Options{Root: l.root})
				if err != nil {
					b.Fatal(err)
				}
				l.startDaemon(d)
				l.waitConverged(10 * time.Second)
				base := d.Passes()
				for _, n := range growthAt {
					testwait.Eventually(b, 10*time.Minute, fmt.Sprintf("%d polls", n), func() bool { return d.Passes()-base >= n })
					heap, goroutines, fds := inProcessMemory(b)
					b.Logf("%s after %5d polls: heap in use %.2f MB, goroutines %d, open files %d, RSS %.1f MB",
						proto, n, heap, goroutines, fds, rssMB(b, os.Getpid()))
					b.ReportMetric(heap, fmt.Sprintf("heap-MB@%d", n))
					b.ReportMetric(float64(goroutines), fmt.Sprintf("goroutines@%d", n))
					b.ReportMetric(float64(fds), fmt.Sprintf("fds@%d", n))
				}
				l.stop()
			}
		})
	}
}

func inProcessMemory(b *testing.B) (heapMB float64, goroutines, fds int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Fatal(err)
	}
	return float64(m.HeapInuse) / (1 << 20), runtime.NumGoroutine(), len(entries)
}

// The built binary's RSS over many no-change polls (10 ms apart) of a
// file:// repository, sampled at each of growthAt. -benchtime=1x.
func BenchmarkPollGrowthRSS(b *testing.B) {
	bin := testbuild.Programs(b)
	for b.Loop() {
		l := newLab(b, labOpts{interval: "10ms"})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg, err := os.ReadFile(l.cfgFile)
		if err != nil {
			b.Fatal(err)
		}
		// No webhook: its receiver is this process, whose work is not the daemon's.
		body := strings.Replace(string(cfg), "webhook_url", "# webhook_url", 1)
		body = strings.Replace(body, "webhook_retries = 0", "", 1)
		gitserve.WriteFile(b, l.cfgFile, body+fmt.Sprintf("metrics { listen = %q }\n", addr))
		cmd := exec.Command(bin, "run", "--config", l.cfgFile, "--root", l.root)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
		passes := func() int64 { return scrapePasses("http://" + addr + "/metrics") }
		testwait.Eventually(b, 20*time.Second, "the daemon did not finish a pass", func() bool { return passes() >= 1 })
		time.Sleep(time.Second) // settle, as the start figure of BenchmarkIdleFootprint
		b.ReportMetric(rssMB(b, cmd.Process.Pid), "rss-MB@start")
		base := passes()
		for _, n := range growthAt {
			testwait.Eventually(b, 10*time.Minute, fmt.Sprintf("%d polls", n), func() bool { return passes()-base >= n })
			rss := rssMB(b, cmd.Process.Pid)
			b.Logf("after %5d polls: RSS %.1f MB", n, rss)
			b.ReportMetric(rss, fmt.Sprintf("rss-MB@%d", n))
		}
	}
}

// scrapePasses reads rulekeeper_passes_total (all results) from /metrics; -1 when unreachable.
func scrapePasses(url string) int64 { return scrape.Sum(url, "rulekeeper_passes_total") }

func rssMB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
