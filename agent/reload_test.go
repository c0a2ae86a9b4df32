package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// An agent stopped while it verifies Falco (SIGTERM, a package upgrade
// restarting it) keeps the files it wrote: they passed every check, and a
// verification cut short is no reason to roll back or to refuse the change.
func TestStopWhileVerifyingKeepsTheFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../examples/cks-terminal-shell/node")); err != nil {
		t.Fatal(err)
	}
	// The stand-in Falco, really running, with its own config naming the
	// sandbox's rules files; it does not watch them, so SIGHUP reloads it.
	dir := t.TempDir()
	falco := filepath.Join(dir, "falco")
	if out, err := exec.Command("go", "build", "-o", falco, "../internal/testkit/falcostandin").CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in falco: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "falco.yaml")
	rules := filepath.Join(root, "etc/falco/falco_rules.yaml")
	os.WriteFile(conf, []byte("watch_config_files: false\nrules_file:\n  - "+rules+"\n"), 0o644)
	pidFile, logFile := filepath.Join(dir, "falco.pid"), filepath.Join(dir, "falco.log")
	cmd := exec.Command(falco, "-c", conf, "-d", "--pidfile="+pidFile)
	cmd.Env = append(os.Environ(), "FALCO_STANDIN_LOG="+logFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting the stand-in: %v\n%s", err, out)
	}
	var pid int
	testwait.Eventually(t, 5*time.Second, "the stand-in writes its pid file", func() bool {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })

	// Falco must stay up 3 s after loading before Verify says yes: the pass
	// is stopped well inside that window.
	r, _, err := initsys.Detect(context.Background(), initsys.Options{FalcoConfig: conf, PidFile: pidFile, LogFile: logFile,
		Method: initsys.MethodSignal, Settle: 3 * time.Second, MinGap: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{PolicyDir: "../examples/cks-terminal-shell", Apply: true, Reloader: r,
		Reconcile: reconcile.Options{Root: root}}
	ctx, stop := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, stop)
	out, err := Converge(ctx, in)
	if !errors.Is(err, ErrVerifyAbandoned) || errors.Is(err, ErrRolledBack) {
		t.Fatalf("want the verification abandoned, got %v", err)
	}
	if out.Reload == nil || out.Reload.RolledBack {
		t.Fatalf("reload outcome %+v", out.Reload)
	}
	b, _ := os.ReadFile(rules)
	if !strings.Contains(string(b), "NEW SHELL!!!") {
		t.Fatal("the written rules file was put back")
	}
	st, err := reconcile.LoadState(filepath.Join(root, reconcile.DefaultStateDir))
	if err != nil || st.Refused != "" {
		t.Fatalf("state refuses the change (%q) or is unreadable: %v", st.Refused, err)
	}
	// After the restart, the node is converged: nothing to do, nothing refused.
	in.Reloader = nil
	out, err = Converge(context.Background(), in)
	if err != nil || !out.Plan.Empty() {
		t.Fatalf("after the restart: %v, plan:\n%s", err, out.Plan.Diff())
	}
}
