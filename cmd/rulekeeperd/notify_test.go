package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/scrape"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// sd_notify as systemd's Type=notify sees it, on a real NOTIFY_SOCKET (a unixgram socket the test
// listens on) against the built rulekeeperd: READY=1 once, only after the first pass wrote its
// files; WATCHDOG=1 every half WATCHDOG_USEC; a SIGHUP makes one pass; STOPPING=1 on SIGTERM, then
// exit 0.
func TestSdNotify(t *testing.T) {
	rk := testbuild.Programs(t)
	rkd := filepath.Join(filepath.Dir(rk), "rulekeeperd")
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../../examples/cks-terminal-shell/node")); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	dir := t.TempDir()
	pol, err := os.ReadFile("../../examples/cks-terminal-shell/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "policy"), 0o755)
	os.WriteFile(filepath.Join(dir, "policy", "policy.hcl"), pol, 0o644)
	// The stand-in Falco checks the files (`falco -V`) before the first pass writes them, slowed by
	// a second: a READY sent when the pass starts, rather than when it ends, would show.
	standin := filepath.Join(dir, "falco-standin")
	if out, err := exec.Command("go", "build", "-o", standin, "../../internal/testkit/falcostandin").CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in falco: %v\n%s", err, out)
	}
	falco := filepath.Join(dir, "falco")
	os.WriteFile(falco, []byte("#!/bin/sh\nsleep 1\nexec "+standin+" \"$@\"\n"), 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := "http://" + ln.Addr().String() + "/metrics"
	ln.Close()
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte("policy_dir = \"policy\"\ninterval = \"1h\"\nfalco {\n  binary = \""+falco+"\"\n  reload = \"none\"\n}\n"+
		"log { format = \"json\" }\nmetrics { listen = \""+strings.TrimSuffix(strings.TrimPrefix(metrics, "http://"), "/metrics")+"\" }\n"), 0o644)

	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	type note struct {
		at      time.Time
		text    string
		written bool // the rules file held the policy's output when it came
	}
	var mu sync.Mutex
	var notes []note
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			b, _ := os.ReadFile(rules)
			mu.Lock()
			notes = append(notes, note{time.Now(), string(buf[:n]), strings.Contains(string(b), "NEW SHELL!!!")})
			mu.Unlock()
		}
	}()
	got := func(text string) []note {
		mu.Lock()
		defer mu.Unlock()
		var out []note
		for _, n := range notes {
			if strings.TrimSpace(n.text) == text {
				out = append(out, n)
			}
		}
		return out
	}
	waitFor := func(text string, within time.Duration) note {
		t.Helper()
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if ns := got(text); len(ns) > 0 {
				return ns[0]
			}
		}
		t.Fatalf("no %s within %v", text, within)
		return note{}
	}

	var logs syncBuffer
	cmd := exec.Command(rkd, "--config", cfg, "--root", root)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()

	ready := waitFor("READY=1", 30*time.Second)
	if !ready.written {
		t.Fatalf("READY=1 came before the first pass wrote %s; log:\n%s", rules, logs.String())
	}
	if len(got("STOPPING=1")) > 0 {
		t.Fatal("STOPPING=1 before any SIGTERM")
	}

	// WATCHDOG_USEC=1s: a WATCHDOG=1 every 500 ms.
	time.Sleep(2600 * time.Millisecond)
	wd := got("WATCHDOG=1")
	if len(wd) < 3 {
		t.Fatalf("%d WATCHDOG=1 in the 2.6 s after READY, want one every 500 ms", len(wd))
	}
	every := wd[len(wd)-1].at.Sub(wd[0].at) / time.Duration(len(wd)-1)
	if every < 400*time.Millisecond || every > 700*time.Millisecond {
		t.Fatalf("WATCHDOG=1 every %v on average, want half of WATCHDOG_USEC (500 ms)", every)
	}
	if wd[0].at.Before(ready.at) {
		t.Fatal("WATCHDOG=1 before READY=1")
	}

	// SIGHUP asks for a pass now (the poll interval is an hour): exactly one.
	before := scrapePasses(metrics)
	time.Sleep(300 * time.Millisecond)
	if now := scrapePasses(metrics); now != before || before < 1 {
		t.Fatalf("passes_total moves without a trigger, or is unreadable: %d then %d", before, now)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	testwait.Eventually(t, 10*time.Second, "no pass after SIGHUP", func() bool { return scrapePasses(metrics) > before })
	time.Sleep(300 * time.Millisecond)
	if n := scrapePasses(metrics); n != before+1 {
		t.Fatalf("%d passes after one SIGHUP, want 1", n-before)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; log:\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10 s of SIGTERM")
	}
	waitFor("STOPPING=1", 2*time.Second)
	if n := len(got("READY=1")); n != 1 {
		t.Fatalf("%d READY=1, want 1", n)
	}
}

// scrapePasses reads rulekeeper_passes_total (all results) from /metrics; -1 when unreachable.
func scrapePasses(url string) int64 { return scrape.Sum(url, "rulekeeper_passes_total") }
