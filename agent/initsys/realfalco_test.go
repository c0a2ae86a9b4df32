package initsys

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
)

// What real Falco logs when it loads its rules, read as the verifier reads a
// unit's journal (every line Falco printed, in order): a load must read as
// "loaded", and 0.32.1's refusal of an invalid file as "failed". 0.32.1 logs
// `Loading rules from file F:`; 0.40.0 and 0.44.1 log `Loading rules from:`
// and then `   F | schema validation: ok` per file.
func TestRealFalcoLoadSeen(t *testing.T) {
	for _, v := range realfalco.Versions {
		t.Run(v, func(t *testing.T) {
			bin := realfalco.Binary(t, v)
			root := realfalco.Node(t, "../../reconcile/testdata/falco", v)
			dir := t.TempDir()
			args := realfalco.Service(t, v, filepath.Join(root, "etc/falco/falco.yaml"), dir, freePort(t))
			args = append(args, realfalco.RulesArgs(root)...)
			out := filepath.Join(dir, "out")
			cmd, done := startReal(t, bin, out, args...)
			waitOutput(t, out, done, "listening on") // its web server starts once the rules are loaded

			if state, _ := loadSeen(outputLines(out), 0, time.Now()); state != "loaded" {
				t.Fatalf("the verifier reads Falco %s's start as %q, want loaded:\n%s", v, state, readLog(out))
			}
			if v != "0.32.1" {
				return
			}
			writeFile(t, filepath.Join(root, "etc/falco/rules.d/bad.yaml"), "- rule: [\n")
			cmd.Process.Signal(syscall.SIGHUP)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("Falco 0.32.1 did not exit on an invalid rules file:\n%s", readLog(out))
			}
			if state, _ := loadSeen(outputLines(out), 0, time.Now()); state != "failed" {
				t.Fatalf("the verifier reads Falco 0.32.1's refusal as %q, want failed:\n%s", state, readLog(out))
			}
		})
	}
}

func startReal(t *testing.T, bin, out string, args ...string) (*exec.Cmd, chan struct{}) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd, done
}

func waitOutput(t *testing.T, out string, done chan struct{}, text string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(readLog(out), text) {
		select {
		case <-done:
			t.Fatalf("Falco exited before printing %q:\n%s", text, readLog(out))
		case <-deadline:
			t.Fatalf("Falco did not print %q within 30 s:\n%s", text, readLog(out))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// outputLines are Falco's output lines as a journal gives them: all after
// the write (the time of the read stands for when they were logged).
func outputLines(out string) []LogLine {
	var ls []LogLine
	now := time.Now()
	for _, l := range strings.Split(readLog(out), "\n") {
		if l != "" {
			ls = append(ls, LogLine{At: now, Text: l})
		}
	}
	return ls
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
