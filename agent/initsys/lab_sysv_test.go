//go:build lab

package initsys

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// sysvFalco is a real Falco run by Debian's `service` from an LSB init script, its output in
// falcoservice.LogFile.
type sysvFalco struct {
	falcoservice.Node
	rules string
}

func installSysV(t testing.TB, version string, watch bool) sysvFalco {
	t.Helper()
	return installSysVScript(t, version, watch, false)
}

// installSysVScript is installSysV with, if withReload, an init script whose reload sends SIGHUP.
func installSysVScript(t testing.TB, version string, watch, withReload bool) sysvFalco {
	t.Helper()
	needLab(t, "sysv")
	t.Cleanup(func() {
		if pid, err := readPidFile("/var/run/falco.pid"); err == nil && isFalco(pid) {
			stopPid(pid) // 0.32.1 may take seconds to obey the script's SIGTERM
		}
		exec.Command("service", "falco", "stop").Run()
		os.Remove("/etc/init.d/falco")
		os.Remove(falcoservice.LogFile)
		falcoservice.Remove()
	})
	n := falcoservice.Install(t, falcoservice.Setup{Version: version, Watch: watch, Port: gitserve.FreePort(t)})
	script := n.InitScript()
	if withReload {
		script = n.InitScriptWithReload()
	}
	if err := os.WriteFile("/etc/init.d/falco", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("service", "falco", "start").CombinedOutput(); err != nil {
		t.Fatalf("service falco start: %v: %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for healthz(timeout(t, time.Second), n.Port) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("falco %s did not come up from its init script; log:\n%s", version, readLog(falcoservice.LogFile))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return sysvFalco{Node: n, rules: "/etc/falco/falco_rules.yaml"}
}

func (f sysvFalco) options() Options {
	o := node{config: f.Config, pidFile: "/var/run/falco.pid", log: falcoservice.LogFile}.options()
	o.MinGap = 2 * time.Second
	return o
}

// loads counts Falco's real loads of its rules since (each starts its web server) and, of them,
// the restarts in process (SIGHUP, from a signal or its own file watch).
func loads(t testing.TB, since time.Time) (loads, inProcess int) {
	t.Helper()
	for _, l := range logSince(t, since) {
		switch {
		case strings.Contains(l.Text, "Starting internal webserver") || strings.Contains(l.Text, "Starting health webserver"):
			loads++
		case strings.Contains(l.Text, "SIGHUP received, restarting"):
			inProcess++
		}
	}
	return loads, inProcess
}

// logSince is every line of Falco's log since, whichever verification read it; the mark the
// verifications keep is left as it was, for the next one.
func logSince(t testing.TB, since time.Time) []LogLine {
	t.Helper()
	logMarks.mu.Lock()
	m, marked := logMarks.m[falcoservice.LogFile]
	delete(logMarks.m, falcoservice.LogFile)
	logMarks.mu.Unlock()
	defer func() {
		if marked {
			logMarks.mu.Lock()
			logMarks.m[falcoservice.LogFile] = m
			logMarks.mu.Unlock()
		}
	}()
	ls, err := logFile{path: falcoservice.LogFile}.lines(t.Context(), since)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func sysvPid(t testing.TB) int {
	t.Helper()
	pid, err := readPidFile("/var/run/falco.pid")
	if err != nil || !isFalco(pid) {
		t.Fatalf("no falco behind /var/run/falco.pid (%d, %v); log:\n%s", pid, err, readLog(falcoservice.LogFile))
	}
	return pid
}

// One pass that changed a file, with the real Falco under SysV: reloaded by `service falco
// restart`, by SIGHUP, or by its own file watch, verified from its log, with exactly one restart.
func TestLabSysVRealFalco(t *testing.T) {
	for _, c := range []struct {
		version string
		watch   bool
		method  Method // forced; "" detects
		want    Method
	}{
		{"0.32.1", false, "", MethodSysV},
		{"0.32.1", true, "", MethodWatch},
		{"0.32.1", false, MethodSignal, MethodSignal},
		{"0.40.0", false, "", MethodSysV},
		{"0.40.0", true, "", MethodWatch},
		{"0.40.0", false, MethodSignal, MethodSignal},
	} {
		t.Run(c.version+"-"+string(c.want), func(t *testing.T) {
			f := installSysV(t, c.version, c.watch)
			o := f.options()
			o.Method = c.method
			r := mustDetect(t, o, c.want)
			before := sysvPid(t)
			time.Sleep(time.Second) // Falco 0.32.1 dies of a SIGHUP that lands while it starts
			since := time.Now()
			b, _ := os.ReadFile(f.rules)
			writeFile(t, f.rules, string(b)+"\n# changed\n")
			if err := r.Reload(timeout(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := r.Verify(timeout(t, 20*time.Second), since); err != nil {
				t.Fatalf("%v\nlog:\n%s", err, readLog(falcoservice.LogFile))
			}
			t.Logf("files written → verified: %s", time.Since(since).Round(time.Millisecond))
			after := sysvPid(t)
			n, hup := loads(t, since)
			if c.want == MethodSysV {
				if after == before || n != 1 || hup != 0 {
					t.Fatalf("want one restart by the init script: pid %d → %d, %d loads, %d SIGHUP restarts; log:\n%s", before, after, n, hup, readLog(falcoservice.LogFile))
				}
			} else if after != before || n != 1 || hup != 1 {
				t.Fatalf("want one restart in process: pid %d → %d, %d loads, %d SIGHUP restarts; log:\n%s", before, after, n, hup, readLog(falcoservice.LogFile))
			}
		})
	}
}

// The caller's rollback under SysV: Falco refuses the new file (0.32.1 exits on it; 0.40.0 keeps
// its old rules, "hot restart failure"), the old file goes back, and Falco runs it again.
func TestLabSysVRealFalcoRollback(t *testing.T) {
	for _, c := range []struct {
		version string
		watch   bool
		want    Method
		says    string
	}{
		{"0.32.1", false, MethodSysV, "Could not load rules file"},
		// Its "hot restart failure" is an event output, held in its stdout buffer: the log file
		// shows the trial load of the new file and no restart after it.
		{"0.40.0", true, MethodWatch, "hot restart failure"},
	} {
		t.Run(c.version+"-"+string(c.want), func(t *testing.T) {
			f := installSysV(t, c.version, c.watch)
			r := mustDetect(t, f.options(), c.want)
			before := sysvPid(t)
			old, _ := os.ReadFile(f.rules)
			time.Sleep(time.Second)
			since := time.Now()
			writeFile(t, f.rules, string(old)+invalidRule)
			if err := r.Reload(timeout(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			err := r.Verify(timeout(t, 20*time.Second), since)
			var ve *VerifyError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("want a VerifyError saying %q, got %v\nlog:\n%s", c.says, err, readLog(falcoservice.LogFile))
			}
			t.Logf("refused after %s: %v", time.Since(since).Round(time.Millisecond), ve.Reason)
			// The error's lines reach back before the write; this refusal is in the log since.
			ls := logSince(t, since)
			refused := countText(ls, "Could not load rules file") > 0
			if c.version == "0.40.0" {
				refused = countText(ls, "Loading rules from:") > 0 && countText(ls, "SIGHUP received") == 0
			}
			if !refused {
				t.Fatalf("falco's log since the write shows no refusal; log:\n%s", readLog(falcoservice.LogFile))
			}

			back := time.Now()
			writeFile(t, f.rules, string(old))
			if err := r.Reload(timeout(t, 20*time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := r.Verify(timeout(t, 20*time.Second), back); err != nil {
				t.Fatalf("after the rollback: %v\nlog:\n%s", err, readLog(falcoservice.LogFile))
			}
			t.Logf("rolled back in %s", time.Since(back).Round(time.Millisecond))
			// 0.40.0 ran on after refusing, but no longer watches its files: the rollback goes
			// through the fallback, `service falco restart`.
			if after := sysvPid(t); after == before {
				t.Errorf("want falco restarted by its init script for the rollback (pid %d)", before)
			}
			if n, _ := loads(t, back); n != 1 {
				t.Errorf("want one load of the old file, got %d; log:\n%s", n, readLog(falcoservice.LogFile))
			}
		})
	}
}

// An init script with a reload: detection picks `service falco reload`, which sends the real
// Falco 0.40.0 SIGHUP: one restart in process, the same pid, verified from its log (its own watch
// is off: the write alone reloads nothing). A restart instead would show a new pid.
func TestLabSysVScriptReload(t *testing.T) {
	f := installSysVScript(t, "0.40.0", false, true)
	r := mustDetect(t, f.options(), MethodSysV)
	if a := r.(*sysvReloader).action; a != "reload" {
		t.Fatalf("the init script has a reload, detection chose %s", a)
	}
	before := sysvPid(t)
	time.Sleep(time.Second)
	since := time.Now()
	b, _ := os.ReadFile(f.rules)
	writeFile(t, f.rules, string(b)+"\n# reloaded by the script\n")
	if err := r.Reload(timeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 20*time.Second), since); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, readLog(falcoservice.LogFile))
	}
	t.Logf("files written → verified: %s", time.Since(since).Round(time.Millisecond))
	after := sysvPid(t)
	if n, hup := loads(t, since); after != before || n != 1 || hup != 1 {
		t.Fatalf("want one SIGHUP restart from the script's reload: pid %d → %d, %d loads, %d SIGHUP restarts; log:\n%s", before, after, n, hup, readLog(falcoservice.LogFile))
	}
}
