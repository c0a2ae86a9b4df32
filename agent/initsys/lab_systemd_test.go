package initsys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// installUnit runs the stand-in as falco.service, the way Falco's packages do. With reload, the
// unit has Falco 0.36+'s ExecReload; without, it is 0.32's unit (restart only).
func installUnit(t testing.TB, n node, reload bool, unitLines ...string) {
	t.Helper()
	unit := fmt.Sprintf("[Unit]\nDescription=Falco stand-in\n"+strings.Join(unitLines, "\n")+"\n[Service]\nType=simple\n"+
		"ExecStart=%s -c %s --pidfile=/var/run/falco.pid\nEnvironment=FALCO_STANDIN_VERSION=0.32.1\n", standin, n.config)
	if reload {
		unit += "ExecReload=/bin/kill -HUP $MAINPID\n"
	}
	if err := os.WriteFile("/etc/systemd/system/falco.service", []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 30*time.Second)
	c, err := sd.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatalf("D-Bus: %v", err)
	}
	defer c.Close()
	if err := c.ReloadContext(ctx); err != nil {
		t.Fatal(err)
	}
	c.ResetFailedUnitContext(ctx, "falco.service")
	done := make(chan string, 1)
	if _, err := c.RestartUnitContext(ctx, "falco.service", "replace", done); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res != "done" {
		t.Fatalf("start falco.service: %s\n%s", res, journalTail("falco.service"))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := sd.NewSystemConnectionContext(ctx)
		if err != nil {
			return
		}
		defer c.Close()
		done := make(chan string, 1)
		if _, err := c.StopUnitContext(ctx, "falco.service", "replace", done); err == nil {
			<-done
		}
		c.ResetFailedUnitContext(ctx, "falco.service")
		os.Remove("/etc/systemd/system/falco.service")
		c.ReloadContext(ctx)
	})
	// Like Falco, the stand-in needs a moment before a SIGHUP is safe.
	time.Sleep(300 * time.Millisecond)
}

func journalTail(unit string) string {
	out, _ := exec.Command("journalctl", "-u", unit, "-n", "20", "--no-pager").CombinedOutput()
	return string(out)
}

func mainPID(t testing.TB) uint32 {
	t.Helper()
	ctx := timeout(t, 10*time.Second)
	c, err := sd.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.GetServicePropertyContext(ctx, "falco.service", "MainPID")
	if err != nil {
		t.Fatal(err)
	}
	return p.Value.Value().(uint32)
}

func labNode(t testing.TB, conf string) node {
	n := newNode(t, conf)
	n.log = "" // under systemd Falco's log is the journal
	return n
}

func TestLabSystemdReload(t *testing.T) {
	needLab(t, "systemd")
	n := labNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	installUnit(t, n, true)
	r := mustDetect(t, n.options(), MethodSystemd)
	before := mainPID(t)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# reload\n")
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if after := mainPID(t); after != before || !strings.Contains(journalTail("falco.service"), "SIGHUP received") {
		t.Fatalf("want a hot reload (same pid %d, got %d, and a SIGHUP in the journal):\n%s", before, after, journalTail("falco.service"))
	}
}

func TestLabSystemdRestart(t *testing.T) {
	needLab(t, "systemd")
	n := labNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	installUnit(t, n, false)
	r := mustDetect(t, n.options(), MethodSystemd)
	before := mainPID(t)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# restart\n")
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if after := mainPID(t); after == before {
		t.Fatalf("want a restart (new main pid), still %d", after)
	}
}

// The caller's rollback: Falco does not come back with the new files, the old ones go back, and
// Falco runs again.
func TestLabSystemdRollback(t *testing.T) {
	needLab(t, "systemd")
	n := labNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	installUnit(t, n, false)
	r := mustDetect(t, n.options(), MethodSystemd)
	old, _ := os.ReadFile(n.rules)

	since := time.Now()
	writeFile(t, n.rules, badRule)
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	err := r.Verify(timeout(t, 15*time.Second), since)
	var ve *VerifyError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "invalid formatting token usr.uid") {
		t.Fatalf("want a VerifyError with Falco's journal lines, got %v", err)
	}
	t.Logf("alert would say: %v", err)

	since = time.Now()
	writeFile(t, n.rules, string(old))
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatalf("after rollback: %v", err)
	}
}

func TestLabSystemdSelfWatching(t *testing.T) {
	needLab(t, "systemd")
	n := labNode(t, "webserver:\n  enabled: false\n")
	installUnit(t, n, true)
	r := mustDetect(t, n.options(), MethodWatch)
	before := mainPID(t)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# watched\n")
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatal(err)
	}
	j := journalTail("falco.service")
	if mainPID(t) != before || !strings.Contains(j, "changed, restarting") || strings.Contains(j, "SIGHUP") {
		t.Fatalf("want falco to restart itself on the write, with no SIGHUP:\n%s", j)
	}
	// An invalid file ends a 0.32.1 Falco that watches its files; verification says so.
	since = time.Now()
	writeFile(t, n.rules, badRule)
	if err := r.Verify(timeout(t, 15*time.Second), since); err == nil || !strings.Contains(err.Error(), "usr.uid") {
		t.Fatalf("want a VerifyError after an invalid file, got %v", err)
	}
}

func TestLabSystemdWithoutDBus(t *testing.T) {
	needLab(t, "systemd")
	n := newNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	n.startDaemon(t)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/no-such-bus")
	_, why, err := Detect(context.Background(), n.options())
	if err != nil || !strings.Contains(why, "D-Bus") {
		t.Fatalf("want the missing D-Bus reported, got %q, %v", why, err)
	}
	mustDetect(t, n.options(), MethodSignal)
	o := n.options()
	o.Method = MethodSystemd
	if _, _, err := Detect(context.Background(), o); err == nil || !strings.Contains(err.Error(), "D-Bus") {
		t.Fatalf("forced systemd without D-Bus: want an error naming D-Bus, got %v", err)
	}
}
