package daemon

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// report adds p50 and p99 of the samples to the benchmark's figures.
func report(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[min(len(samples)-1, int(q*float64(len(samples))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(samples[len(samples)-1].Microseconds())/1000, "max-ms")
}

// Drift: a managed value edited (in place, and by write-temp-then-rename,
// alternately) until the daemon has put it back. -benchtime=200x for the
// figures of the README.
func BenchmarkDriftRestore(b *testing.B) {
	l := newLab(b, labOpts{interval: "1h"})
	l.start()
	l.waitConverged(10 * time.Second)
	want := l.rules()
	drifted := replaceOnce(b, want, "NEW SHELL!!!", "OLD SHELL")
	p := l.host(rulesPath)
	var samples []time.Duration
	i := 0
	for b.Loop() {
		how := []string{"in place", "rename"}[i%2]
		i++
		start := time.Now()
		l.writeRules(how, drifted)
		for {
			got, _ := os.ReadFile(p)
			if string(got) == want {
				break
			}
			if time.Since(start) > 5*time.Second {
				b.Fatalf("edit %d (%s) not restored within 5s", i, how)
			}
			time.Sleep(200 * time.Microsecond)
		}
		samples = append(samples, time.Since(start))
		time.Sleep(60 * time.Millisecond) // let the restore's own event pass, as between real edits
	}
	report(b, samples)
}

// gitDaemon serves dir's repositories with `git daemon` behind a counting
// TCP proxy; it returns the git:// base URL and the byte counters.
func gitDaemon(b *testing.B, base string) (url string, sent, recvd *atomic.Int64) {
	port := gitserve.FreePort(b)
	cmd := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--base-path="+base,
		"--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), base)
	if err := cmd.Start(); err != nil {
		b.Fatalf("git daemon (Debian package git): %v", err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	sent, recvd = &atomic.Int64{}, &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
				if err != nil {
					return
				}
				defer up.Close()
				go func() { n, _ := io.Copy(up, c); sent.Add(n); up.(*net.TCPConn).CloseWrite() }()
				n, _ := io.Copy(c, up)
				recvd.Add(n)
			}()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("git daemon did not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "git://" + ln.Addr().String() + "/", sent, recvd
}

// A poll that finds the same commit, over git:// from a local `git daemon`:
// time of the whole pass and bytes on the wire per poll.
func BenchmarkNoChangePoll(b *testing.B) {
	l := newLab(b, labOpts{interval: "1h"})
	url, sent, recvd := gitDaemon(b, filepath.Dir(l.repo))
	cfg := l.config()
	cfg.Source.URL = url + filepath.Base(l.repo)
	d, err := New(cfg, Options{Root: l.root})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	d.pass(ctx, false) // clone and converge
	d.pass(ctx, true)  // settle the watches
	if !strings.Contains(l.rules(), examLine) {
		b.Fatal("not converged")
	}
	time.Sleep(100 * time.Millisecond)
	s0, r0 := sent.Load(), recvd.Load()
	var samples []time.Duration
	for b.Loop() {
		start := time.Now()
		d.pass(ctx, false)
		samples = append(samples, time.Since(start))
	}
	time.Sleep(50 * time.Millisecond) // the proxy counts when a connection ends
	n := float64(len(samples))
	b.ReportMetric(float64(sent.Load()-s0)/n, "sent-B/poll")
	b.ReportMetric(float64(recvd.Load()-r0)/n, "recv-B/poll")
	report(b, samples)
	closeIdle(d)
}

// A new commit until it is applied on the node, interval 1s. -benchtime=20x.
func BenchmarkNewCommitApplied(b *testing.B) {
	l := newLab(b, labOpts{interval: "1s"})
	l.start()
	l.waitConverged(10 * time.Second)
	policy := examText(b)
	var samples []time.Duration
	i := 0
	for b.Loop() {
		i++
		prefix := fmt.Sprintf("SHELL %d!", i)
		// Commit at a random point of the poll cycle, once the pass that
		// the previous write's own file event started is over.
		b.StopTimer()
		time.Sleep(200*time.Millisecond + rand.N(time.Second))
		b.StartTimer()
		start := time.Now()
		l.commit("policy.hcl", strings.Replace(policy, `prefix  = "NEW SHELL!!!"`, `prefix  = "`+prefix+`"`, 1))
		for !strings.Contains(l.rules(), "    "+prefix+" user_id") {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("commit %d not applied within 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
		samples = append(samples, time.Since(start))
	}
	report(b, samples)
}
