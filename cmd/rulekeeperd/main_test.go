package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

func TestBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(cfg, []byte("drift { mode = \"fix\" }\n"), 0o644)
	var errs bytes.Buffer
	code := run([]string{"--config", cfg, "--root", t.TempDir()}, &errs, nil, nil)
	if code != 1 || !strings.Contains(errs.String(), "No policy source") || !strings.Contains(errs.String(), "the daemon did not start") {
		t.Fatalf("exit %d\n%s", code, errs.String())
	}
}

func TestExtraArguments(t *testing.T) {
	var errs bytes.Buffer
	if code := run([]string{"now"}, &errs, nil, nil); code != 1 || !strings.Contains(errs.String(), "usage: rulekeeper run") {
		t.Fatalf("exit %d\n%s", code, errs.String())
	}
}

// SIGHUPs sent without pause from a daemon's first moments until it has
// started do not end it; then SIGTERM stops it with exit 0.
//
// Through `rulekeeper run` (what the systemd unit starts) the first one
// goes the instant the process becomes rulekeeperd: rulekeeper ignores
// SIGHUP across the exec, so there is no moment at which one is fatal.
// Started directly, rulekeeperd catches SIGHUP from the first package
// initialised after os/signal, milliseconds after exec (before that is the
// Go runtime's own start, where no Go program can handle a signal, and
// which takes tens of milliseconds on a loaded machine), before the other
// packages' init functions, the config load and the init system's
// detection: the SIGHUPs start the moment it opens its config.
func TestSIGHUPAtStart(t *testing.T) {
	rk := testbuild.Programs(t)
	rkd := filepath.Join(filepath.Dir(rk), "rulekeeperd")
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../../examples/cks-terminal-shell/node")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pol, err := os.ReadFile("../../examples/cks-terminal-shell/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "policy"), 0o755)
	os.WriteFile(filepath.Join(dir, "policy", "policy.hcl"), pol, 0o644)
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte("policy_dir = \"policy\"\ninterval = \"1h\"\nfalco { binary = \"none\" }\nlog { format = \"json\" }\n"), 0o644)

	for _, tc := range []struct {
		argv         []string
		atConfigOpen bool // else the moment the process is rulekeeperd
	}{
		{[]string{rk, "run"}, false},
		{[]string{rkd}, true},
	} {
		name := strings.Join(tc.argv, " ")
		for i := range 5 {
			var logs syncBuffer
			opened := configOpened(t, cfg)
			cmd := exec.Command(tc.argv[0], append(tc.argv[1:], "--config", cfg, "--root", root)...)
			cmd.Stderr = &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			exe := fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)
			for deadline := time.Now().Add(5 * time.Second); ; {
				if p, _ := os.Readlink(exe); p == rkd {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s never became %s; log:\n%s", name, rkd, logs.String())
				}
			}
			if tc.atConfigOpen {
				select {
				case <-opened:
				case <-time.After(10 * time.Second):
					t.Fatalf("%s did not open its config within 10s; log:\n%s", name, logs.String())
				}
			}
			start, hups := time.Now(), 0
			for !strings.Contains(logs.String(), `"msg":"rulekeeper started"`) {
				if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatalf("%s (run %d): %v; log:\n%s", name, i, err, logs.String())
				}
				hups++
				select {
				case err := <-done:
					t.Fatalf("%s (run %d) ended after SIGHUP number %d, sent over %v: %v; log:\n%s",
						name, i, hups, time.Since(start), err, logs.String())
				case <-time.After(time.Millisecond):
				}
				if time.Since(start) > 20*time.Second {
					t.Fatalf("%s (run %d) did not start within 20s; log:\n%s", name, i, logs.String())
				}
			}
			t.Logf("%s: %d SIGHUPs over the %v of its start", name, hups, time.Since(start).Round(time.Millisecond))
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: exit after SIGTERM: %v; log:\n%s", name, err, logs.String())
				}
			case <-time.After(10 * time.Second):
				// SIGQUIT: the Go runtime writes every goroutine's stack to
				// the log, which says where it stuck.
				cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					cmd.Process.Kill()
				}
				t.Fatalf("%s (run %d): no exit within 10s of SIGTERM; log:\n%s", name, i, logs.String())
			}
		}
	}
}

// configOpened tells when a process opens the file (inotify IN_OPEN).
func configOpened(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() {
		defer unix.Close(fd)
		buf := make([]byte, 4096)
		if n, err := unix.Read(fd, buf); err == nil && n > 0 {
			close(ch)
		}
	}()
	return ch
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
