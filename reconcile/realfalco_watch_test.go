//go:build realfalco

package reconcile

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

// The real Falco watching its files (watch_config_files, on by default)
// sees the agent-owned file arrive whole and never a temporary file: the
// first write links the finished file into rules.d, which 0.32.1 sees as
// created (a file moved in it would not notice) and 0.40.0 too; the file is
// loaded, and no temporary name ever shows in Falco's log.
func TestRealFalcoSeesOverrideWhole(t *testing.T) {
	for _, v := range []string{"0.32.1", "0.40.0"} {
		t.Run(v, func(t *testing.T) {
			bin := realfalco.Binary(t, v)
			root := realNode(t, v)
			dir := t.TempDir()
			args := realfalco.Service(t, v, filepath.Join(root, "etc/falco/falco.yaml"), dir, 0)
			args = append(args, realfalco.RulesArgs(root)...)
			var log syncBuffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			started := "Loading rules from file " + filepath.Join(root, "etc/falco/falco_rules.local.yaml")
			if v != "0.32.1" {
				started = "Opening 'syscall' source with no driver"
			}
			waitLog(t, &log, started, 0)
			time.Sleep(500 * time.Millisecond) // its watches are set after the start
			before := log.Len()

			o := at(root, v)
			o.FalcoBinary = bin
			mustApply(t, exam(policy.Override), o)
			own := filepath.Join(root, ownPath)
			loaded := "Loading rules from file " + own + ":"
			if v != "0.32.1" {
				loaded = own + " | schema validation: ok"
			}
			waitLog(t, &log, loaded, before)
			if strings.Contains(log.String(), ".rulekeeper-") {
				t.Fatalf("Falco met a temporary file:\n%s", log.String())
			}
		})
	}
}

// waitLog waits until text shows in the log past offset from.
func waitLog(t *testing.T, log *syncBuffer, text string, from int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String()[from:], text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in Falco's log after 30 s:\n%s", text, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is Falco's output, written by the process while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int { return len(b.String()) }
