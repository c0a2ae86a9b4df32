//go:build realfalco || lab

package initsys

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
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
			// A SIGHUP that lands while 0.32.1 still starts can end it before it loads anything.
			time.Sleep(time.Second)
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

// realNode runs a real Falco on the host, the way the SysV init script does: in the foreground,
// its output to a log file, its pid in a pid file written for it (0.32.1 writes one only with -d).
type realNode struct {
	falcoservice.Node
	rules, pidFile, log string
	pid                 int
}

func startRealNode(t *testing.T, version string, watch bool) *realNode {
	t.Helper()
	dir := t.TempDir()
	n := &realNode{Node: falcoservice.Files(t, falcoservice.Setup{Version: version, Watch: watch, Port: gitserve.FreePort(t), NoSyslog: true}, dir),
		rules: filepath.Join(dir, "falco_rules.yaml"), pidFile: filepath.Join(dir, "falco.pid"), log: filepath.Join(dir, "falco.log")}
	n.start(t)
	return n
}

func (n *realNode) start(t *testing.T) {
	t.Helper()
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(n.Bin, n.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.pid = cmd.Process.Pid
	go cmd.Wait() // reaped as soon as it exits: a zombie would still look alive
	t.Cleanup(func() { syscall.Kill(n.pid, syscall.SIGKILL) })
	writeFile(t, n.pidFile, pidString(n.pid)+"\n")
	deadline := time.Now().Add(20 * time.Second)
	for healthz(timeout(t, time.Second), n.Port) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("real Falco %s not healthy within 20 s; log:\n%s", n.Version, readLog(n.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *realNode) options() Options {
	o := node{config: n.Config, pidFile: n.pidFile, log: n.log}.options()
	o.MinGap = 2 * time.Second // a SIGHUP that lands while Falco starts can kill it
	return o
}

// edit appends a comment to the rules file (a valid change) or an invalid rule, atomically.
func (n *realNode) edit(t *testing.T, extra string) {
	t.Helper()
	b, err := os.ReadFile(n.rules)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, n.rules, string(b)+extra)
}

const invalidRule = "\n- rule: rulekeeper test\n  desc: d\n  condition: proc.name = bash and\n  output: o\n  priority: NOTICE\n"

// restarts counts `SIGHUP received, restarting` in what Falco logged since.
func restarts(t *testing.T, n *realNode, since time.Time) int {
	t.Helper()
	return logCount(t, n, since, "SIGHUP received, restarting")
}

// logCount counts the lines of n's log since that contain text.
func logCount(t *testing.T, n *realNode, since time.Time, text string) int {
	t.Helper()
	logMarks.mu.Lock()
	delete(logMarks.m, n.log) // count every line since, whichever verification read it
	logMarks.mu.Unlock()
	ls, err := logFile{path: n.log}.lines(timeout(t, time.Second), since)
	if err != nil {
		t.Fatal(err)
	}
	return countText(ls, text)
}

// reloadOnce reloads and verifies a change written after since, and wants Falco to have
// restarted exactly once for it.
func reloadOnce(t *testing.T, n *realNode, r Reloader, since time.Time, what string) {
	t.Helper()
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 10*time.Second), since); err != nil {
		t.Fatalf("%s: %v\nlog:\n%s", what, err, readLog(n.log))
	}
	t.Logf("%s: verified %s after the write", what, time.Since(since).Round(time.Millisecond))
	if c := restarts(t, n, since); c != 1 {
		t.Fatalf("%s: want exactly one restart, got %d; log:\n%s", what, c, readLog(n.log))
	}
}

// Falco 0.40.0 restarts by itself when its rules change: the verify reads its log (a trial load,
// SIGHUP received, the real load) and adds no reload of its own. An invalid change is refused
// by Falco, which keeps running: the verify reports the hot restart failure at once.
func TestRealFalco040Watch(t *testing.T) {
	n := startRealNode(t, "0.40.0", true)
	r := mustDetect(t, n.options(), MethodWatch)
	since := time.Now()
	n.edit(t, "\n# changed\n")
	reloadOnce(t, n, r, since, "a valid change")

	time.Sleep(time.Second)
	since = time.Now()
	n.edit(t, invalidRule)
	err := r.Verify(timeout(t, 10*time.Second), since)
	var ve *VerifyError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "hot restart failure") {
		t.Fatalf("want a VerifyError naming the hot restart failure, got %v\nlog:\n%s", err, readLog(n.log))
	}
	// A log file has no "hot restart failure" line in time (Falco's stdout is buffered there):
	// a trial load with no restart after it tells.
	if took := time.Since(since); took > trialWait+3*time.Second {
		t.Errorf("the refusal took %s to notice", took)
	}
	// Nor is a refusal answered by a reload another way (it would be refused again): one trial
	// load, its own, and no second one from a SIGHUP (refused, it logs no "SIGHUP received").
	time.Sleep(time.Second)
	if c := logCount(t, n, since, "Loading rules from:"); c != 1 {
		t.Fatalf("want the one trial load of Falco's own watch, got %d loads: a reload followed the refusal; log:\n%s", c, readLog(n.log))
	}
	if !alive(n.pid) || restarts(t, n, since) != 0 {
		t.Fatalf("falco 0.40.0 should keep running its old rules, without a restart; log:\n%s", readLog(n.log))
	}
	t.Log(err)

	// The rollback: the previous file back. Having refused a change, Falco no longer watches its
	// files, so the reloader goes through its fallback (SIGHUP): one restart, onto the old rules.
	since = time.Now()
	writeFile(t, n.rules, strings.TrimSuffix(readLog(n.rules), invalidRule))
	reloadOnce(t, n, r, since, "the rollback")
}

// Falco 0.32.1 reloads on SIGHUP; an invalid file makes it exit, which the verify reports with
// Falco's own error. Each case has a Falco of its own: with watch_config_files off, 0.32.1
// survives one SIGHUP only (seen: the second one stops it).
func TestRealFalco032Signal(t *testing.T) {
	t.Run("reload", func(t *testing.T) {
		n := startRealNode(t, "0.32.1", false)
		r := mustDetect(t, n.options(), MethodSignal)
		since := time.Now()
		n.edit(t, "\n# changed\n")
		reloadOnce(t, n, r, since, "a valid change")
	})
	t.Run("invalid", func(t *testing.T) {
		n := startRealNode(t, "0.32.1", false)
		r := mustDetect(t, n.options(), MethodSignal)
		since := time.Now()
		n.edit(t, invalidRule)
		if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		err := r.Verify(timeout(t, 10*time.Second), since)
		var ve *VerifyError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "Could not load rules file") {
			t.Fatalf("want a VerifyError quoting Falco's error, got %v\nlog:\n%s", err, readLog(n.log))
		}
		for i := 0; i < 50 && alive(n.pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(n.pid) {
			t.Fatal("falco 0.32.1 should have exited on the invalid file")
		}
		t.Log(err)
	})
}

// Falco 0.40.0 with its metrics on: the verify reads the rules files' hashes it reports (by
// their base names), sees the new ones after its restart, and sees a refusal in its log although
// the metrics go on showing the old rules.
func TestRealFalco040Metrics(t *testing.T) {
	dir := t.TempDir()
	nd := falcoservice.Files(t, falcoservice.Setup{Version: "0.40.0", Watch: true, Port: gitserve.FreePort(t), NoSyslog: true, Metrics: true}, dir)
	n := &realNode{Node: nd, rules: filepath.Join(dir, "falco_rules.yaml"), pidFile: filepath.Join(dir, "falco.pid"), log: filepath.Join(dir, "falco.log")}
	n.start(t)
	o := n.options()
	o.WatchWait = 10 * time.Second // no fallback: the metrics must show the new hash by themselves
	r := mustDetect(t, o, MethodWatch)
	// Seen: 0.40.0 with its metrics on dies of a restart a second after it started.
	time.Sleep(3 * time.Second)
	since := time.Now()
	n.edit(t, "\n# changed\n")
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, readLog(n.log))
	}
	t.Logf("verified by the metrics %s after the write", time.Since(since).Round(time.Millisecond))
	if c := restarts(t, n, since); c != 1 {
		t.Fatalf("want exactly one restart, got %d; log:\n%s", c, readLog(n.log))
	}
	time.Sleep(time.Second)
	since = time.Now()
	n.edit(t, invalidRule)
	if err := r.Verify(timeout(t, 15*time.Second), since); err == nil || !strings.Contains(err.Error(), "hot restart failure") {
		t.Fatalf("want the refusal, got %v", err)
	}
}

// Falco 0.44.1 (its container plugin on, falco-rules 5.1.0) restarts itself once on a write and
// refuses an invalid file as 0.40 does: the verify reads both from its log.
func TestRealFalco044Watch(t *testing.T) {
	root := realfalco.Node(t, "../../reconcile/testdata/falco", "0.44.1")
	etc := filepath.Join(root, "etc/falco")
	conf, err := os.ReadFile(filepath.Join(etc, "falco.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	port := gitserve.FreePort(t)
	text := strings.Replace(strings.Replace(string(conf), "listen_port: 8765", "listen_port: "+pidString(port), 1),
		"log_syslog: true", "log_syslog: false", 1)
	writeFile(t, filepath.Join(etc, "falco.yaml"), text)
	n := &realNode{Node: falcoservice.Node{Setup: falcoservice.Setup{Version: "0.44.1", Port: port}, Bin: realfalco.Binary(t, "0.44.1"),
		Config: filepath.Join(etc, "falco.yaml"), Dir: etc,
		Args: append([]string{"-c", filepath.Join(etc, "falco.yaml"), "-o", "engine.kind=nodriver"}, realfalco.RulesArgs(root)...)},
		rules: filepath.Join(etc, "falco_rules.yaml"), pidFile: filepath.Join(root, "falco.pid"), log: filepath.Join(root, "falco.log")}
	n.start(t)
	o := n.options()
	r := mustDetect(t, o, MethodWatch)
	time.Sleep(time.Second)
	since := time.Now()
	n.edit(t, "\n# changed\n")
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, readLog(n.log))
	}
	t.Logf("verified %s after the write", time.Since(since).Round(time.Millisecond))
	if c := restarts(t, n, since); c != 1 {
		t.Fatalf("want exactly one restart, got %d; log:\n%s", c, readLog(n.log))
	}
	time.Sleep(time.Second)
	since = time.Now()
	n.edit(t, invalidRule)
	if err := r.Verify(timeout(t, 15*time.Second), since); err == nil || !strings.Contains(err.Error(), "hot restart failure") {
		t.Fatalf("want the refusal, got %v\nlog:\n%s", err, readLog(n.log))
	}
	if !alive(n.pid) {
		t.Fatal("falco 0.44.1 should run on with its previous rules")
	}
}
