package reconcile

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/policy"
)

// A second rulekeeper, in another process, waits while the state lock is
// held and then runs its pass.
func TestLockWaitsAcrossProcesses(t *testing.T) {
	root := node032(t)
	vendor := readNode(t, root, rulesPath)
	unlock, err := Lock(opts(root).StatePath())
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := helper(t, self, root)
	cmd.Env = append(cmd.Env, "RULEKEEPER_TEST_HELPER_LOCK=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		unlock()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		unlock()
		t.Fatalf("the second rulekeeper did not wait for the lock: %v\n%s", err, out.String())
	case <-time.After(300 * time.Millisecond):
	}
	if readNode(t, root, rulesPath) != vendor {
		unlock()
		t.Fatal("the file changed while the lock was held")
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second rulekeeper: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the second rulekeeper did not run once the lock was released")
	}
	if got := strings.Fields(out.String()); len(got) < 2 || got[len(got)-2] != "locked" || got[len(got)-1] != "applied" {
		t.Fatalf("output: %q", out.String())
	}
	if !strings.Contains(readNode(t, root, rulesPath), "NEW SHELL!!!") {
		t.Fatal("the edit is not in the file")
	}
}

// Within one process each Lock is its own open file: passes queue too.
func TestLockWaitsInProcess(t *testing.T) {
	root := node032(t)
	dir := opts(root).StatePath()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	for range 2 {
		go func() {
			u, err := Lock(dir)
			if err != nil {
				done <- err
				return
			}
			defer u()
			p, err := MakePlan(exam(policy.InPlace), opts(root))
			if err == nil {
				_, err = Apply(p)
			}
			done <- err
		}()
	}
	select {
	case err := <-done:
		unlock()
		t.Fatalf("a pass ran while the lock was held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("passes did not run after the lock was released")
		}
	}
	got := readNode(t, root, rulesPath)
	if strings.Count(got, "NEW SHELL!!!") != 1 {
		t.Fatal("the two passes stacked their edits")
	}
}
