package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkWriteToNotify measures the time from a write to the notification, the watcher's share of
// rulekeeper's tamper-to-restored latency. It is the quiet period plus inotify and scheduling delay;
// the figures reported are per write. Run with -benchtime=200x or more for a stable p99.
func BenchmarkWriteToNotify(b *testing.B) {
	for _, quiet := range []time.Duration{20 * time.Millisecond} {
		for _, kind := range []string{"in-place", "rename"} {
			b.Run(fmt.Sprintf("quiet=%v/%s", quiet, kind), func(b *testing.B) {
				benchLatency(b, quiet, kind == "rename")
			})
		}
	}
}

func benchLatency(b *testing.B, quiet time.Duration, byRename bool) {
	dir := b.TempDir()
	path := filepath.Join(dir, "falco_rules.yaml")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		b.Fatal(err)
	}
	w, err := New([]string{path}, quiet, nil)
	if err != nil {
		b.Fatal(err)
	}
	ch := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, func([]string) { ch <- time.Now() })

	lat := make([]time.Duration, 0, b.N)
	content := []byte("- rule: tampered\n")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if byRename {
			tmp := filepath.Join(dir, ".tmp")
			if err := os.WriteFile(tmp, content, 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				b.Fatal(err)
			}
		} else if err := os.WriteFile(path, content, 0o644); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-ch:
			lat = append(lat, at.Sub(start))
		case <-time.After(waitLimit):
			b.Fatalf("no notification within %v", waitLimit)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
