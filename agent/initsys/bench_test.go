package initsys

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"
)

// benchPass measures one pass as the agent runs it: files written, Reload, Verify. Settle keeps its
// default (500 ms: Falco must stay up that long after loading), so it dominates the figures. With
// a real Falco, MinGap keeps its default too (2 s between reloads: a SIGHUP that lands while Falco
// starts can kill it), and each pass waits it out before it writes, outside the timing.
func benchPass(b *testing.B, o Options, rules string, want Method) {
	o.Settle = 0
	o.Logger = slog.New(slog.DiscardHandler)
	r := mustDetect(b, o, want)
	orig, err := os.ReadFile(rules)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		time.Sleep(o.MinGap)
		b.StartTimer()
		since := time.Now()
		writeFile(b, rules, fmt.Sprintf("%s\n# pass %d\n", orig, i))
		if err := r.Reload(timeout(b, 20*time.Second)); err != nil {
			b.Fatal(err)
		}
		if err := r.Verify(timeout(b, 20*time.Second), since); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReload(b *testing.B) {
	b.Run("signal", func(b *testing.B) {
		n := newNode(b, "watch_config_files: false\nwebserver:\n  enabled: false\n")
		n.startDaemon(b)
		o := n.options()
		o.MinGap = time.Millisecond
		benchPass(b, o, n.rules, MethodSignal)
	})
	b.Run("watch", func(b *testing.B) {
		n := newNode(b, "webserver:\n  enabled: false\n")
		n.startDaemon(b)
		o := n.options()
		o.MinGap = time.Millisecond
		benchPass(b, o, n.rules, MethodWatch)
	})
}
