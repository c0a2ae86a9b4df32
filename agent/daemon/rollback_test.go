package daemon

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// A commit that Falco refuses (the stand-in playing 0.40.0 does not know %fs.path.name and keeps
// its previous rules) is rolled back by the daemon, and the rollback is told: a Critical alert of
// kind rollback naming what Falco said, and `rulekeeper status` shows it as the last error.
func TestRollbackIsAlerted(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	l.startWithStandin()
	l.hook.wait(t, 30*time.Second, "applied", nil)
	good := l.rules()

	l.commit("policy.hcl", `falco {
  strategy      = "in_place"
  falco_version = "0.44.1"
}
rule "Terminal shell in container" {
  output {
    prefix = "NEW SHELL!!! path=%fs.path.name"
  }
}
`)
	l.d.Trigger()
	ev := l.hook.wait(t, 30*time.Second, "rollback", nil)
	if ev.Hostname != "node-1" { // the config's node { hostname }
		t.Errorf("alert from host %q, want node-1", ev.Hostname)
	}
	if ev.Priority != "Critical" || !strings.Contains(ev.Output, "the previous files were put back") ||
		!strings.Contains(ev.Output, "invalid formatting token fs.path.name") {
		t.Fatalf("rollback alert: %s %q", ev.Priority, ev.Output)
	}
	if got := l.rules(); got != good {
		t.Fatal("the rules file was not put back")
	}
	// The status file is written after the alert is queued.
	testwait.Eventually(t, 5*time.Second, "status does not show the rollback as its last error", func() bool {
		st, err := agent.ReadStatus(filepath.Join(l.root, "var/lib/rulekeeper"))
		return err == nil && st != nil && st.LastError != nil && st.LastError.Kind == "rollback"
	})
	// The change asked for again (the rollback's own writes are a trigger,
	// and so is this one) is refused without a new alert: the rollback
	// stays the incident.
	l.d.Trigger()
	time.Sleep(500 * time.Millisecond)
	if n, m := len(l.hook.events("rollback")), len(l.hook.events("error")); n != 1 || m != 0 {
		t.Fatalf("%d rollback and %d error alerts, want 1 and 0:\n%s", n, m, l.hook.dump())
	}
	if st, _ := agent.ReadStatus(filepath.Join(l.root, "var/lib/rulekeeper")); st == nil || st.LastError == nil || st.LastError.Kind != "rollback" {
		t.Fatalf("status after the change was asked for again: %+v", st)
	}
}

// standin is the stand-in Falco (playing 0.40.0) running as a daemon on a sandbox's rules files,
// reloaded by SIGHUP only; its web server is on, so that it logs, as Falco 0.40 does, when its
// rules run.
type standin struct{ conf, pidFile, log string }

// startWithStandin starts the lab's daemon with a stand-in Falco running on
// the node, reloaded by a signal, so that a change it refuses is rolled back.
func (l *lab) startWithStandin() {
	l.t.Helper()
	t := l.t.(*testing.T)
	falco := startStandin(t, l.root)
	d, err := New(l.config(), Options{Root: l.root, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	o := initsys.Options{FalcoConfig: falco.conf, PidFile: falco.pidFile, LogFile: falco.log,
		Method: initsys.MethodSignal, Settle: 300 * time.Millisecond, MinGap: 300 * time.Millisecond}
	if d.Reloader, _, err = initsys.Detect(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	l.startDaemon(d)
}

func startStandin(t *testing.T, root string) standin {
	t.Helper()
	dir := t.TempDir()
	falco := filepath.Join(dir, "falco")
	if out, err := exec.Command("go", "build", "-o", falco, "../../internal/testkit/falcostandin").CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in falco: %v\n%s", err, out)
	}
	s := standin{conf: filepath.Join(dir, "falco.yaml"), pidFile: filepath.Join(dir, "falco.pid"), log: filepath.Join(dir, "falco.log")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	etc := filepath.Join(root, "etc/falco")
	os.WriteFile(s.conf, []byte("watch_config_files: false\nwebserver:\n  enabled: true\n  listen_port: "+strconv.Itoa(port)+
		"\nrules_file:\n  - "+etc+"/falco_rules.yaml\n  - "+etc+"/falco_rules.local.yaml\n  - "+etc+"/rules.d\n"), 0o644)
	cmd := exec.Command(falco, "-c", s.conf, "-d", "--pidfile="+s.pidFile)
	cmd.Env = append(os.Environ(), "FALCO_STANDIN_LOG="+s.log, "FALCO_STANDIN_VERSION=0.40.0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting the stand-in: %v\n%s", err, out)
	}
	var pid int
	testwait.Eventually(t, 5*time.Second, "the stand-in writes its pid file", func() bool {
		b, _ := os.ReadFile(s.pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return s
}
