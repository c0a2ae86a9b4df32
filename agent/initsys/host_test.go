package initsys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSignalViaPidFile(t *testing.T) {
	n := newNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	pid := n.startDaemon(t)
	r := mustDetect(t, n.options(), MethodSignal)

	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# changed\n")
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 10*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readLog(n.log), "SIGHUP received, restarting...") || !isFalco(pid) {
		t.Fatalf("want falco (pid %d) restarted in process by SIGHUP; log:\n%s", pid, readLog(n.log))
	}
}

// Without a pid file, the signal method finds Falco by a scan of /proc and
// SIGHUPs it there. (The test command runs these tests with no other Falco
// on the machine: the scan takes the lowest pid.)
func TestSignalFindsFalcoInProc(t *testing.T) {
	n := newNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	pid := n.startDaemon(t)
	if err := os.Remove(n.pidFile); err != nil {
		t.Fatal(err)
	}
	o := n.options()
	o.Method = MethodSignal
	r, _, err := Detect(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if found, note, err := findFalco(n.pidFile); err != nil || found != pid || !strings.Contains(note, "found in /proc") {
		t.Fatalf("found %d (%q, %v), want the stand-in %d from /proc; falco processes: %v", found, note, err, pid, scanFalco())
	}
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# changed\n")
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 10*time.Second), since); err != nil || !strings.Contains(readLog(n.log), "SIGHUP received") {
		t.Fatalf("verify: %v; log:\n%s", err, readLog(n.log))
	}
}

func TestSignalInvalidFileGivesFalcoLog(t *testing.T) {
	n := newNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	n.startDaemon(t)
	r := mustDetect(t, n.options(), MethodSignal)
	since := time.Now()
	writeFile(t, n.rules, badRule)
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	err := r.Verify(timeout(t, 10*time.Second), since)
	var ve *VerifyError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "invalid formatting token usr.uid") {
		t.Fatalf("want a VerifyError quoting Falco's error, got %v", err)
	}
	t.Log(err)
}

func TestWatchVerifiesWithoutReloading(t *testing.T) {
	n := newNode(t, "webserver:\n  enabled: false\n") // watch_config_files absent: on
	n.startDaemon(t)
	r := mustDetect(t, n.options(), MethodWatch)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# changed\n")
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 10*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if log := readLog(n.log); strings.Contains(log, "SIGHUP") || !strings.Contains(log, "changed, restarting...") {
		t.Fatalf("want a restart by Falco's own watch and no SIGHUP; log:\n%s", log)
	}
}

func TestWatchFallsBackWhenFalcoDoesNotWatch(t *testing.T) {
	// The config says watch, but this Falco was started with another config that does not: the
	// files are not picked up by themselves, so the fallback (SIGHUP) reloads it.
	n := newNode(t, "webserver:\n  enabled: false\n")
	other := n
	other.config = n.dir + "/running.yaml"
	writeFile(t, other.config, fmt.Sprintf("rules_file: [%s]\nwatch_config_files: false\nwebserver:\n  enabled: false\n", n.rules))
	other.startDaemon(t)
	o := n.options()
	o.WatchWait = time.Second
	r := mustDetect(t, o, MethodWatch)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# changed\n")
	if err := r.Verify(timeout(t, 10*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readLog(n.log), "SIGHUP received") {
		t.Fatalf("want the fallback SIGHUP; log:\n%s", readLog(n.log))
	}
}

func TestWatchWithMetrics(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	n := newNode(t, fmt.Sprintf("webserver:\n  enabled: true\n  listen_port: %d\n  prometheus_metrics_enabled: true\nmetrics:\n  enabled: true\n", port))
	n.startDaemon(t)
	o := n.options()
	o.LogFile = "" // only the metrics can prove the load
	r := mustDetect(t, o, MethodWatch)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# changed for metrics\n")
	if err := r.Verify(timeout(t, 10*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(readLog(n.log), "SIGHUP") {
		t.Fatal("metrics showed the new hashes: no fallback reload expected")
	}
}

func TestNoFalco(t *testing.T) {
	n := newNode(t, "")
	r := mustDetect(t, n.options(), MethodNone)
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestStalePidFileIsNotSignalled(t *testing.T) {
	n := newNode(t, "watch_config_files: false\n")
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	writeFile(t, n.pidFile, pidString(sleep.Process.Pid)+"\n")

	_, why, err := Detect(context.Background(), n.options())
	if err != nil || !strings.Contains(why, "stale") {
		t.Fatalf("want the stale pid file reported, got %q, %v", why, err)
	}
	o := n.options()
	o.Method = MethodSignal
	r := mustDetect(t, o, MethodSignal)
	if err := r.Reload(timeout(t, 5*time.Second)); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("Reload: want an error about the stale pid file, got %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := sleep.Process.Signal(syscall.Signal(0)); err != nil || !alive(sleep.Process.Pid) {
		t.Fatal("the process named by the stale pid file was signalled")
	}
}

func TestMinGapSpacesReloads(t *testing.T) {
	n := newNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	n.startDaemon(t)
	o := n.options()
	o.MinGap = 700 * time.Millisecond
	r := mustDetect(t, o, MethodSignal)
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Fatalf("second reload after %s, want about 700 ms", d)
	}
}

func TestDetectErrors(t *testing.T) {
	n := newNode(t, "")
	o := n.options()
	o.Method = "upstart"
	if _, _, err := Detect(context.Background(), o); err == nil || !strings.Contains(err.Error(), "unknown reload method") {
		t.Fatalf("want unknown method error, got %v", err)
	}
	o.Method = MethodSysV
	o.InitScript = n.dir + "/no-such-script"
	if _, _, err := Detect(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no-such-script") {
		t.Fatalf("want an error naming the missing init script, got %v", err)
	}
	o = n.options()
	o.Root = n.dir
	r, why, err := Detect(context.Background(), o)
	if err != nil || r.Method() != MethodNone || !strings.Contains(why, "sandbox") {
		t.Fatalf("sandbox root: got %v %q %v", r, why, err)
	}
	if _, statErr := os.Stat("/run/systemd/system"); statErr != nil {
		o = n.options()
		o.Method = MethodSystemd
		if _, _, err := Detect(context.Background(), o); err == nil {
			t.Fatal("forced systemd without a reachable systemd: want an error")
		}
	}
}

// A Falco whose metrics report the hashes of the files it runs is verified by them: while it runs
// the previous files (here: no reload was sent), the verify does not pass, however long Falco has
// been up and whatever /healthz says; once it loaded the new files, it does.
func TestMetricsHashesMustMatch(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	n := newNode(t, fmt.Sprintf("watch_config_files: false\nwebserver:\n  enabled: true\n  listen_port: %d\n  prometheus_metrics_enabled: true\nmetrics:\n  enabled: true\n", port))
	n.startDaemon(t)
	o := n.options()
	o.LogFile = "" // only the metrics can prove the load
	r := mustDetect(t, o, MethodSignal)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# changed, not yet loaded\n")
	err = r.Verify(timeout(t, 4*time.Second), since) // past metricsDelay and Settle
	if err == nil || !strings.Contains(err.Error(), "falco metrics report") || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Falco runs the previous files: want the verify to fail on the metrics' hashes, got %v", err)
	}
	since = time.Now()
	if err := r.Reload(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 10*time.Second), since); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
}
