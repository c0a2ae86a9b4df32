package daemon

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// Bounds of the built daemon facing a 50 MB file in rules.d.
const (
	bigFileSize = 50 << 20
	maxRSS      = 64 << 20 // peak resident memory of the whole process
	maxLogLine  = 64 << 10 // one log line, and one webhook payload
)

// The built rulekeeperd with a 50 MB file dropped in rules.d, then edited
// (one line), then deleted, and then the 136 KB vendor file deleted: its
// peak memory stays under 64 MB, each log line and each webhook payload
// under 64 KiB, and the diffs say how many lines they leave out.
func TestBigFileBounded(t *testing.T) {
	t.Parallel()
	r := runBigFile(t)
	t.Logf("peak RSS %.1f MB; longest log line %d bytes; largest webhook payload %d bytes", float64(r.peakRSS)/(1<<20), r.longestLine, r.maxPayload)
	if r.peakRSS > maxRSS {
		t.Errorf("peak RSS %.1f MB, over %d MB", float64(r.peakRSS)/(1<<20), maxRSS>>20)
	}
	if r.longestLine > maxLogLine {
		t.Errorf("a log line of %d bytes, over %d:\n%.2000s…", r.longestLine, maxLogLine, r.longest)
	}
	if r.maxPayload > maxLogLine {
		t.Errorf("a webhook payload of %d bytes, over %d", r.maxPayload, maxLogLine)
	}
	if !strings.Contains(r.vendorDiff, "more lines") {
		t.Errorf("the removed vendor file's diff does not say how many lines it leaves out:\n%s", r.vendorDiff)
	}
}

// BenchmarkBigFileRSS reports the figures of TestBigFileBounded. -benchtime=1x.
func BenchmarkBigFileRSS(b *testing.B) {
	for b.Loop() {
		r := runBigFile(b)
		b.ReportMetric(float64(r.peakRSS)/(1<<20), "peak-RSS-MB")
		b.ReportMetric(float64(r.longestLine), "longest-log-line-B")
		b.ReportMetric(float64(r.maxPayload), "largest-webhook-B")
	}
}

type bigFileRun struct {
	peakRSS     int64
	longestLine int
	longest     string
	maxPayload  int
	vendorDiff  string
}

func runBigFile(tb testing.TB) bigFileRun {
	bin := testbuild.Daemon(tb)
	l := newLab(tb, labOpts{local: true, interval: "200ms"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := os.ReadFile(l.cfgFile)
	if err != nil {
		tb.Fatal(err)
	}
	gitserve.WriteFile(tb, l.cfgFile, string(cfg)+fmt.Sprintf("metrics { listen = %q }\nlog { format = \"json\" }\n", addr))

	cmd := exec.Command(bin, "--config", l.cfgFile, "--root", l.root)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	var r bigFileRun
	var mu sync.Mutex
	read := make(chan struct{})
	go func() {
		defer close(read)
		br := bufio.NewReaderSize(stderr, 64<<10)
		for {
			line, err := br.ReadString('\n')
			mu.Lock()
			if len(line) > r.longestLine {
				r.longestLine, r.longest = len(line), line
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	passes := func() int64 { return scrapePasses("http://" + addr + "/metrics") }
	settle := func(what string) {
		tb.Helper()
		n := passes()
		testwait.Eventually(tb, 60*time.Second, what, func() bool { return passes() >= n+3 })
	}
	testwait.Eventually(tb, 20*time.Second, "the daemon's first pass", func() bool { return passes() >= 1 })
	l.waitConverged(10 * time.Second)

	// Written beside the node and renamed into rules.d, as a package
	// manager drops a file: whole at once. Seen half-written (under 4 MiB)
	// it is a rules file the daemon reads and parses, which this test does
	// not measure.
	big := l.host("/etc/falco/rules.d/90-big.yaml")
	staged := filepath.Join(filepath.Dir(l.root), "90-big.yaml")
	writeBigRules(tb, staged, bigFileSize)
	if err := os.Rename(staged, big); err != nil {
		tb.Fatal(err)
	}
	settle("passes after the big file came")
	f, err := os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	// One line in the middle, in place: "  items: [x, y]" of a pair.
	if _, err := f.WriteAt([]byte("  items: [x, z]"), int64(bigFileSize/2/bigPair*bigPair+bigPairHead)); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	settle("passes after the big file's edit")
	if err := os.Remove(big); err != nil {
		tb.Fatal(err)
	}
	settle("passes after the big file went")
	if err := os.Remove(l.host(rulesPath)); err != nil {
		tb.Fatal(err)
	}
	e := l.hook.wait(tb, 10*time.Second, "tamper", func(e hookEvent) bool { return e.f("file") == rulesPath })
	r.vendorDiff = e.f("diff")

	r.peakRSS = peakRSS(tb, cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	<-read
	l.hook.mu.Lock()
	r.maxPayload = l.hook.maxBody
	l.hook.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	return r
}

// A big rules file is pairs of lines "- list: big_00000001\n  items: [x, y]\n".
const (
	bigPairHead = len("- list: big_00000001\n")
	bigPair     = bigPairHead + len("  items: [x, y]\n")
)

// writeBigRules writes a valid rules file of at least size bytes, lists of
// a line pair each, a block at a time.
func writeBigRules(tb testing.TB, path string, size int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i, n := 0, 0; n < size; i++ {
		k, _ := fmt.Fprintf(w, "- list: big_%08d\n  items: [x, y]\n", i)
		n += k
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// peakRSS is the process's peak resident memory (VmHWM), in bytes.
func peakRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM")
	return 0
}
