//go:build realfalco

package reconcile

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
)

const syslogChildEnv = "RULEKEEPER_TEST_SYSLOG_CHILD"

// rulekeeper's runs of the real Falco (--version, and the -V gate with the
// node's config) put nothing in syslog, where Falco logs its start-up lines
// by default: the test gives Falco a /dev/log of its own, in a private mount
// namespace (the host's /dev is untouched), and first checks that Falco run
// as before does write there.
func TestRealFalcoOutOfSyslog(t *testing.T) {
	if os.Getenv(syslogChildEnv) == "1" {
		syslogChild(t)
		return
	}
	realfalco.Dir(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare not found: install the Debian package util-linux")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it mounts a /dev of its own in a private mount namespace")
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private",
		os.Args[0], "-test.run=^TestRealFalcoOutOfSyslog$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), syslogChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRealFalcoOutOfSyslog") {
		t.Fatalf("the syslog test in a private namespace failed (%v):\n%s", err, out)
	}
	t.Logf("in the private namespace:\n%s", out)
}

func syslogChild(t *testing.T) {
	dev := t.TempDir()
	for _, n := range []string{"null", "zero", "random", "urandom", "full", "tty"} {
		var st syscall.Stat_t
		if err := syscall.Stat("/dev/"+n, &st); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mknod(filepath.Join(dev, n), syscall.S_IFCHR|0o666, int(st.Rdev)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/proc/self/fd", filepath.Join(dev, "fd")); err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dev, "log"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	if err := syscall.Mount(dev, "/dev", "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting a /dev of its own: %v", err)
	}
	defer syscall.Unmount("/dev", syscall.MNT_DETACH)
	logged := func() []string {
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}

	// Falco as it runs by default does write to this syslog.
	bin040 := realfalco.Binary(t, "0.40.0")
	if out, err := exec.Command(bin040, "--version").CombinedOutput(); err != nil {
		t.Fatalf("falco --version: %v\n%s", err, out)
	}
	if l := logged(); len(l) == 0 || !strings.Contains(strings.Join(l, "\n"), "Falco version: 0.40.0") {
		t.Fatalf("Falco 0.40.0 --version did not reach the test's syslog (got %q): the test cannot see what it checks", l)
	}

	for _, g := range gateNodes {
		bin := realfalco.Binary(t, g.version)
		logged()
		if _, err := FalcoVersion(bin); err != nil {
			t.Fatal(err)
		}
		if l := logged(); len(l) > 0 {
			t.Errorf("Falco %s: rulekeeper's --version put %d lines in syslog: %q", g.version, len(l), l)
		}
		root := t.TempDir()
		d := exam(g.strategy)
		d.Falco.Config = g.lay(t, root, "/etc/falco")
		p := mustPlan(t, d, Options{Root: root, StateDir: "/var/lib/rulekeeper", FalcoBinary: bin, FalcoVersion: g.version})
		if res, err := Apply(p); err != nil || !res.Checked {
			t.Fatalf("Falco %s: apply: %v", g.version, err)
		}
		if l := logged(); len(l) > 0 {
			t.Errorf("Falco %s: rulekeeper's -V put %d lines in syslog: %q", g.version, len(l), l)
		}
		bad := exam(g.strategy)
		bad.Falco.Config = d.Falco.Config
		bad.Rules[0].Output.Prefix = "NEW SHELL!!! 100% sure"
		if _, err := Apply(mustPlan(t, bad, Options{Root: root, StateDir: "/var/lib/rulekeeper", FalcoBinary: bin, FalcoVersion: g.version})); err == nil {
			t.Fatalf("Falco %s: a bad change passed", g.version)
		}
		if l := logged(); len(l) > 0 {
			t.Errorf("Falco %s: rulekeeper's refusing -V put %d lines in syslog: %q", g.version, len(l), l)
		}
	}
}
