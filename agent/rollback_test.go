package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
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

// A Falco that refuses the new files (here the stand-in playing 0.40.0, which keeps its previous
// rules: "hot restart failure") gets the previous files back, byte for byte, and the state as it
// was before the pass (but for the refusal it records); Falco is reloaded onto them and verified.
// The same change is then refused without touching Falco, until the policy changes.
func TestRollbackRestoresFilesAndState(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../examples/cks-terminal-shell/node")); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(root, reconcile.DefaultStateDir)
	// A node already converged on the exam's policy: the state the rollback must restore.
	exam := Input{PolicyDir: "../examples/cks-terminal-shell", Apply: true, Reconcile: reconcile.Options{Root: root}}
	if _, err := Converge(context.Background(), exam); err != nil {
		t.Fatal(err)
	}
	filesBefore, stateBefore := treeOf(t, filepath.Join(root, "etc/falco")), readState(t, stateDir)

	sf := startStandin(t, root, "0.40.0")
	r, _, err := initsys.Detect(context.Background(), initsys.Options{FalcoConfig: sf.conf, PidFile: sf.pidFile, LogFile: sf.log,
		Method: initsys.MethodSignal, Settle: 300 * time.Millisecond, MinGap: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// %fs.path.name is a field of the newest Falco, unknown to 0.40.0; no falco -V catches it first.
	pol := t.TempDir()
	os.WriteFile(filepath.Join(pol, "policy.hcl"), []byte(`falco {
  strategy      = "in_place"
  falco_version = "0.44.1"
}
rule "Terminal shell in container" {
  output {
    prefix = "NEW SHELL!!! path=%fs.path.name"
  }
}
`), 0o644)
	in := Input{PolicyDir: pol, Apply: true, Reloader: r, Reconcile: reconcile.Options{Root: root}}
	out, err := Converge(context.Background(), in)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("want the change rolled back, got %v", err)
	}
	if strings.Contains(err.Error(), "not healthy with the previous files either") {
		t.Fatalf("Falco did not come back with the previous files: %v\nlog:\n%s", err, readFile(sf.log))
	}
	if out.Reload == nil || !out.Reload.RolledBack || out.Reload.Verified || !strings.Contains(out.Reload.Error, "hot restart failure") {
		t.Fatalf("reload outcome %+v", out.Reload)
	}
	if !strings.Contains(readFile(sf.log), "invalid formatting token fs.path.name") {
		t.Fatalf("Falco never saw the new file; log:\n%s", readFile(sf.log))
	}
	sameTree(t, "after the rollback", filesBefore, treeOf(t, filepath.Join(root, "etc/falco")))
	stateAfter := readState(t, stateDir)
	if stateAfter["refused"] == nil {
		t.Fatalf("the state does not record the refused change:\n%v", stateAfter)
	}
	// Pending settles a pass killed halfway; the files are whole again, so it goes.
	delete(stateAfter, "refused")
	delete(stateBefore, "pending")
	if !sameJSON(stateBefore, stateAfter) {
		t.Fatalf("the state was not put back:\nbefore %s\nafter  %s", jsonText(stateBefore), jsonText(stateAfter))
	}
	if !alive(sf.pid) {
		t.Fatal("Falco is not running after the rollback")
	}

	// The same change again: refused from the state, nothing written, Falco not signalled.
	hups := strings.Count(readFile(sf.log), "SIGHUP received")
	if _, err := Converge(context.Background(), in); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("the same change again: want reconcile.ErrRefused, got %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(readFile(sf.log), "SIGHUP received"); n != hups {
		t.Fatalf("the refused pass reloaded Falco (%d SIGHUPs, had %d)", n, hups)
	}
	sameTree(t, "after the refused pass", filesBefore, treeOf(t, filepath.Join(root, "etc/falco")))

	// A changed policy is tried again.
	os.WriteFile(filepath.Join(pol, "policy.hcl"), []byte(`rule "Terminal shell in container" {
  output {
    prefix = "NEW SHELL!!! user=%user.name"
  }
}
`), 0o644)
	in.Apply = false
	if out, err := Converge(context.Background(), in); err != nil || out.Plan.Empty() {
		t.Fatalf("a changed policy: want a plan, got %v", err)
	}
}

// standinFalco is the stand-in Falco running as a daemon on a sandbox's rules files, reloaded by
// SIGHUP only (its own file watch off).
type standinFalco struct {
	conf, pidFile, log string
	pid                int
}

func startStandin(t *testing.T, root, version string) standinFalco {
	t.Helper()
	dir := t.TempDir()
	falco := filepath.Join(dir, "falco")
	if out, err := exec.Command("go", "build", "-o", falco, "../internal/testkit/falcostandin").CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in falco: %v\n%s", err, out)
	}
	s := standinFalco{conf: filepath.Join(dir, "falco.yaml"), pidFile: filepath.Join(dir, "falco.pid"), log: filepath.Join(dir, "falco.log")}
	etc := filepath.Join(root, "etc/falco")
	// The web server on: the stand-in, as Falco 0.40 does, then logs that its rules run.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	os.WriteFile(s.conf, []byte("watch_config_files: false\nwebserver:\n  enabled: true\n  listen_port: "+strconv.Itoa(port)+"\nrules_file:\n  - "+
		etc+"/falco_rules.yaml\n  - "+etc+"/falco_rules.local.yaml\n  - "+etc+"/rules.d\n"), 0o644)
	cmd := exec.Command(falco, "-c", s.conf, "-d", "--pidfile="+s.pidFile)
	cmd.Env = append(os.Environ(), "FALCO_STANDIN_LOG="+s.log, "FALCO_STANDIN_VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting the stand-in: %v\n%s", err, out)
	}
	testwait.Eventually(t, 5*time.Second, "the stand-in writes its pid file", func() bool {
		b, _ := os.ReadFile(s.pidFile)
		s.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return s.pid > 0
	})
	t.Cleanup(func() { syscall.Kill(s.pid, syscall.SIGKILL) })
	return s
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// treeOf is every regular file under dir, by path.
func treeOf(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameTree(t *testing.T, when string, want, got map[string][]byte) {
	t.Helper()
	for p, b := range want {
		if g, ok := got[p]; !ok || !bytes.Equal(g, b) {
			t.Errorf("%s: %s is not as it was (present %v)", when, p, ok)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %s was left behind", when, p)
		}
	}
}

func readState(t *testing.T, dir string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sameJSON(a, b map[string]json.RawMessage) bool { return jsonText(a) == jsonText(b) }

func jsonText(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m) // map keys sorted
	return string(b)
}
