//go:build lab

package initsys

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"

	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// unitFalco is a real Falco run as falco.service, logging to the journal.
type unitFalco struct {
	falcoservice.Node
	rules string
}

func (f unitFalco) options() Options {
	o := node{config: f.Config, pidFile: "/var/run/falco.pid"}.options()
	o.MinGap = 2 * time.Second
	return o
}

// installRealUnit runs the real Falco of version as falco.service, the way Falco's packages do.
// With execReload, the unit has Falco 0.36+'s ExecReload; without, it is 0.32's (restart only).
func installRealUnit(t testing.TB, version string, watch, execReload bool, unitLines ...string) unitFalco {
	t.Helper()
	needLab(t, "systemd")
	ctx := timeout(t, 30*time.Second)
	c, err := sd.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatalf("D-Bus: %v", err)
	}
	defer c.Close()
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
		falcoservice.Remove()
	})
	n := falcoservice.Install(t, falcoservice.Setup{Version: version, Watch: watch, Port: gitserve.FreePort(t)})
	// Back-to-back restarts would hit systemd's start limit (5 in 10 s); the agent spaces them.
	unitLines = append(unitLines, "StartLimitIntervalSec=0")
	if err := os.WriteFile("/etc/systemd/system/falco.service", []byte(n.Unit(execReload, unitLines...)), 0o644); err != nil {
		t.Fatal(err)
	}
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
	deadline := time.Now().Add(20 * time.Second)
	for healthz(timeout(t, time.Second), n.Port) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("falco.service (Falco %s) not healthy within 20 s:\n%s", version, journalTail("falco.service"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Falco 0.32.1 dies of a SIGHUP that lands while it starts.
	time.Sleep(time.Second)
	return unitFalco{Node: n, rules: "/etc/falco/falco_rules.yaml"}
}

func journalTail(unit string) string {
	out, _ := exec.Command("journalctl", "-u", unit, "-n", "40", "--no-pager").CombinedOutput()
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

// unitRestarts counts, in falco.service's journal since, Falco's restarts in process and the
// unit's starts.
func unitRestarts(t testing.TB, since time.Time) (inProcess, started int) {
	t.Helper()
	ls, err := UnitLog(t.Context(), "falco.service", since)
	if err != nil {
		t.Fatal(err)
	}
	return countText(ls, "SIGHUP received, restarting"), countText(ls, "Started falco.service")
}

func (f unitFalco) change(t *testing.T, extra string) time.Time {
	t.Helper()
	b, err := os.ReadFile(f.rules)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	writeFile(t, f.rules, string(b)+extra)
	return since
}

func TestLabSystemdReload(t *testing.T) {
	f := installRealUnit(t, "0.40.0", false, true)
	r := mustDetect(t, f.options(), MethodSystemd)
	before := mainPID(t)
	since := f.change(t, "\n# reload\n")
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if hup, started := unitRestarts(t, since); mainPID(t) != before || hup != 1 || started != 0 {
		t.Fatalf("want one hot reload (same pid %d, one SIGHUP restart, no start), got %d, %d, %d:\n%s", before, mainPID(t), hup, started, journalTail("falco.service"))
	}
}

func TestLabSystemdRestart(t *testing.T) {
	f := installRealUnit(t, "0.32.1", false, false)
	r := mustDetect(t, f.options(), MethodSystemd)
	before := mainPID(t)
	since := f.change(t, "\n# restart\n")
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if hup, started := unitRestarts(t, since); mainPID(t) == before || hup != 0 || started != 1 {
		t.Fatalf("want one restart (new main pid, was %d), got %d SIGHUP restarts and %d starts:\n%s", before, hup, started, journalTail("falco.service"))
	}
}

// The caller's rollback: Falco 0.32.1 does not come back with the new files (it exits), the old
// ones go back, and Falco runs again.
func TestLabSystemdRollback(t *testing.T) {
	f := installRealUnit(t, "0.32.1", false, false)
	r := mustDetect(t, f.options(), MethodSystemd)
	old, _ := os.ReadFile(f.rules)
	since := f.change(t, invalidRule)
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	err := r.Verify(timeout(t, 15*time.Second), since)
	var ve *VerifyError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "Could not load rules file") {
		t.Fatalf("want a VerifyError with Falco's journal lines, got %v", err)
	}
	// The error's lines reach back before the write; this pass's refusal is in the journal since.
	if j, _ := UnitLog(t.Context(), "falco.service", since); countText(j, "Could not load rules file") == 0 {
		t.Fatalf("falco.service logged no refusal since the write:\n%s", journalTail("falco.service"))
	}
	t.Logf("alert would say: %v", err)

	since = time.Now()
	writeFile(t, f.rules, string(old))
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatalf("after rollback: %v", err)
	}
}

// Falco 0.40.0 with its default config: it restarts itself on the write, with no reload from
// rulekeeper; an invalid file it refuses, running on, and the verify says so.
func TestLabSystemdSelfWatching(t *testing.T) {
	f := installRealUnit(t, "0.40.0", true, true)
	r := mustDetect(t, f.options(), MethodWatch)
	before := mainPID(t)
	since := f.change(t, "\n# watched\n")
	if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatal(err)
	}
	j, _ := UnitLog(t.Context(), "falco.service", since)
	if hup, started := unitRestarts(t, since); mainPID(t) != before || hup != 1 || started != 0 || countText(j, "Reloading falco.service") != 0 {
		t.Fatalf("want falco to restart itself once on the write, with no reload:\n%s", journalTail("falco.service"))
	}
	time.Sleep(time.Second)
	since = f.change(t, invalidRule)
	if err := r.Verify(timeout(t, 15*time.Second), since); err == nil || !strings.Contains(err.Error(), "hot restart failure") {
		t.Fatalf("want a VerifyError after an invalid file, got %v", err)
	}
	if j, _ := UnitLog(t.Context(), "falco.service", since); countText(j, "hot restart failure") != 1 {
		t.Fatalf("want one hot restart failure in the journal since the write:\n%s", journalTail("falco.service"))
	}
	if mainPID(t) != before {
		t.Fatal("falco 0.40.0 should run on with its previous rules")
	}
}

// The systemd method set in the agent config, on a node whose systemd has no
// such unit loaded: an error naming it, not a node where Falco is silently
// never reloaded.
func TestLabSystemdForcedWithoutUnit(t *testing.T) {
	needLab(t, "systemd")
	o := newNode(t, "").options()
	o.Method = MethodSystemd
	o.Unit = "no-such-falco.service"
	if r, why, err := Detect(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no falco unit") {
		t.Fatalf("forced systemd without a falco unit: got %v %q %v, want an error", r, why, err)
	}
}

func TestLabSystemdWithoutDBus(t *testing.T) {
	needLab(t, "systemd")
	n := startRealNode(t, "0.40.0", false)
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

// Falco's packages from 0.34 run it as falco-modern-bpf.service, falco-kmod.service,
// falco-bpf.service or falco-custom.service, each with Alias=falco.service (made when the unit is
// enabled). The real Falco 0.40.0 runs as falco-modern-bpf.service, with the unit of 0.36+
// (ExecReload): once enabled (falco.service names it) and once only started (no alias); either
// way the unit is found under its own name and Falco hot-reloaded through it.
func TestLabSystemdPackagedUnit(t *testing.T) {
	for _, enable := range []bool{true, false} {
		t.Run(map[bool]string{true: "enabled-alias", false: "started-only"}[enable], func(t *testing.T) {
			const unit = "falco-modern-bpf.service"
			needLab(t, "systemd")
			t.Cleanup(func() {
				exec.Command("systemctl", "disable", "--now", unit).Run()
				exec.Command("systemctl", "reset-failed", unit).Run()
				os.Remove("/etc/systemd/system/" + unit)
				exec.Command("systemctl", "daemon-reload").Run()
				falcoservice.Remove()
			})
			n := falcoservice.Install(t, falcoservice.Setup{Version: "0.40.0", Port: gitserve.FreePort(t)})
			text := n.Unit(true, "StartLimitIntervalSec=0") + "[Install]\nWantedBy=multi-user.target\nAlias=falco.service\n"
			if err := os.WriteFile("/etc/systemd/system/"+unit, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			systemctl(t, "daemon-reload")
			if enable {
				systemctl(t, "enable", unit)
			}
			systemctl(t, "start", unit)
			deadline := time.Now().Add(20 * time.Second)
			for healthz(timeout(t, time.Second), n.Port) != nil {
				if time.Now().After(deadline) {
					t.Fatalf("%s not healthy within 20 s:\n%s", unit, journalTail(unit))
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(time.Second)
			o := node{config: n.Config, pidFile: "/var/run/falco.pid"}.options()
			o.MinGap = 2 * time.Second
			r, why, err := Detect(t.Context(), o)
			if err != nil || r.Method() != MethodSystemd || !strings.Contains(why, "systemd unit "+unit+" is active: reload") {
				t.Fatalf("want the systemd method on %s by reload, got %v (%s), %v", unit, r, why, err)
			}
			before := unitMainPID(t, unit)
			b, _ := os.ReadFile("/etc/falco/falco_rules.yaml")
			since := time.Now()
			writeFile(t, "/etc/falco/falco_rules.yaml", string(b)+"\n# packaged unit\n")
			if err := r.Reload(timeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
				t.Fatalf("%v\n%s", err, journalTail(unit))
			}
			ls, err := UnitLog(t.Context(), unit, since)
			if err != nil {
				t.Fatal(err)
			}
			if hup, started := countText(ls, "SIGHUP received, restarting"), countText(ls, "Started "+unit); unitMainPID(t, unit) != before || hup != 1 || started != 0 {
				t.Fatalf("want one hot reload of %s (same pid %s, one SIGHUP restart, no start), got %d SIGHUP restarts, %d starts:\n%s", unit, before, hup, started, journalTail(unit))
			}
		})
	}
}

func systemctl(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("systemctl", args...).CombinedOutput(); err != nil {
		t.Fatalf("systemctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func unitMainPID(t testing.TB, unit string) string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", "MainPID", "--value", unit).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
