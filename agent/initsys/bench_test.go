package initsys

import (
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// benchPass measures one pass as the agent runs it: files written, Reload, Verify. Settle keeps its
// default (500 ms: Falco must stay up that long after loading), so it dominates the figures.
func benchPass(b *testing.B, n node, want Method) {
	o := n.options()
	o.MinGap, o.Settle = time.Millisecond, 0
	o.Logger = slog.New(slog.DiscardHandler)
	r := mustDetect(b, o, want)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		since := time.Now()
		writeFile(b, n.rules, fmt.Sprintf("%s\n# pass %d\n", goodRule, i))
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
		benchPass(b, n, MethodSignal)
	})
	b.Run("watch", func(b *testing.B) {
		n := newNode(b, "webserver:\n  enabled: false\n")
		n.startDaemon(b)
		benchPass(b, n, MethodWatch)
	})
}

func BenchmarkLabSystemd(b *testing.B) {
	needLab(b, "systemd")
	for _, c := range []struct {
		name   string
		reload bool
	}{{"reload", true}, {"restart", false}} {
		b.Run(c.name, func(b *testing.B) {
			n := labNode(b, "watch_config_files: false\nwebserver:\n  enabled: false\n")
			// Back-to-back restarts would hit systemd's start limit (5 in 10 s); the agent spaces them.
			installUnit(b, n, c.reload, "StartLimitIntervalSec=0")
			benchPass(b, n, MethodSystemd)
		})
	}
	b.Run("watch", func(b *testing.B) {
		n := labNode(b, "webserver:\n  enabled: false\n")
		installUnit(b, n, true)
		benchPass(b, n, MethodWatch)
	})
}

func BenchmarkLabSysV(b *testing.B) {
	needLab(b, "sysv")
	n := sysvNode(b)
	installInitScript(b, n)
	benchPass(b, n, MethodSysV)
}
