package initsys

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
)

func installInitScript(t testing.TB, n node) {
	t.Helper()
	if err := os.WriteFile("/etc/init.d/falco", []byte(falcoservice.InitScript(standin, n.config)), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("service", "falco", "start").CombinedOutput()
	if err != nil {
		t.Fatalf("service falco start: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("service", "falco", "stop").Run()
		os.Remove("/etc/init.d/falco")
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if pid, err := readPidFile("/var/run/falco.pid"); err == nil && isFalco(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("falco did not start from its init script; log:\n%s", readLog("/run/falco-standin.log"))
}

func sysvNode(t testing.TB) node {
	n := newNode(t, "watch_config_files: false\nwebserver:\n  enabled: false\n")
	n.pidFile, n.log = "/var/run/falco.pid", "/run/falco-standin.log"
	return n
}

func TestLabSysVRestart(t *testing.T) {
	needLab(t, "sysv")
	n := sysvNode(t)
	installInitScript(t, n)
	r := mustDetect(t, n.options(), MethodSysV)
	before, _ := readPidFile(n.pidFile)
	since := time.Now()
	writeFile(t, n.rules, goodRule+"\n# sysv\n")
	if err := r.Reload(timeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(timeout(t, 15*time.Second), since); err != nil {
		t.Fatal(err)
	}
	if after, _ := readPidFile(n.pidFile); after == before {
		t.Fatalf("want a restart (new pid), still %d", after)
	}
}
