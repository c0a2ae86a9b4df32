package alert

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

const journalChildEnv = "RULEKEEPER_TEST_JOURNALD_CHILD"

const journaldPath = "/lib/systemd/systemd-journald"

// TestJournald runs a real systemd-journald, in a private mount namespace with its own tmpfs /run (so
// the host's journal, if any, is untouched), logs through NewLogger as the agent does under systemd,
// and reads the entries back with journalctl.
func TestJournald(t *testing.T) {
	if os.Getenv(journalChildEnv) == "1" {
		journaldChild(t)
		return
	}
	for bin, pkg := range map[string]string{"unshare": "util-linux", "mount": "mount", "journalctl": "systemd"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: install the Debian package %s", bin, pkg)
		}
	}
	if _, err := os.Stat(journaldPath); err != nil {
		t.Fatalf("%s not found: install the Debian package systemd", journaldPath)
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it mounts a tmpfs on /run in a private mount namespace for journald")
	}
	if strings.HasPrefix(os.Args[0], "/run/") {
		t.Fatalf("the test binary %s is under /run, which the test hides: set GOTMPDIR elsewhere", os.Args[0])
	}
	script := `set -e
mount -t tmpfs tmpfs /run
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
exec "$@"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
		os.Args[0], "-test.run=^TestJournald$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), journalChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestJournald") {
		t.Fatalf("journald test in a private namespace failed (%v):\n%s", err, out)
	}
	t.Logf("in the private namespace:\n%s", out)
}

func journaldChild(t *testing.T) {
	if err := os.MkdirAll("/run/systemd/journal", 0o755); err != nil {
		t.Fatal(err)
	}
	jd := exec.Command(journaldPath)
	var jdOut bytes.Buffer
	jd.Stdout, jd.Stderr = &jdOut, &jdOut
	if err := jd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = jd.Process.Signal(syscall.SIGTERM)
		_ = jd.Wait()
	}()
	testwait.Eventually(t, 10*time.Second, "journald's socket", func() bool {
		_, err := os.Stat("/run/systemd/journal/socket")
		return err == nil
	})

	// What systemd does for a service: stderr connected to the journal, JOURNAL_STREAM naming it.
	var st syscall.Stat_t
	if err := syscall.Fstat(2, &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	log := NewLogger(os.Stderr, false)
	if _, ok := log.Handler().(*JournalHandler); !ok {
		t.Fatalf("NewLogger under systemd chose %T, want *JournalHandler", log.Handler())
	}

	a := New(Config{}, log, nil)
	e := driftEvent
	e.Diff = "--- a/falco_rules.yaml\n+++ b/falco_rules.yaml\n-  output: NEW SHELL!!!\n+  output: A shell\n"
	a.Emit(context.Background(), e)
	log.With("component", "source").WithGroup("git").Warn("fetch failed", "url", "https://git.example/p.git", "attempt", 2)

	var entries []map[string]any
	testwait.Eventually(t, 10*time.Second, "two rulekeeper entries in the journal", func() bool {
		out, err := exec.Command("journalctl", "-D", "/run/log/journal", "-o", "json", "--no-pager",
			"SYSLOG_IDENTIFIER=rulekeeper").Output()
		if err != nil {
			return false
		}
		entries = nil
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				entries = append(entries, m)
			}
		}
		return len(entries) >= 2
	})

	wants := []map[string]any{
		{"MESSAGE": e.Message, "PRIORITY": "4", "RULEKEEPER_KIND": "drift", "RULE": e.Rule, "FILE": e.File,
			"COMMIT": e.Commit, "OLD": e.Old, "NEW": e.New, "DIFF": e.Diff, "MODE": "restore", "_TRANSPORT": "journal"},
		{"MESSAGE": "fetch failed", "PRIORITY": "4", "COMPONENT": "source", "GIT_URL": "https://git.example/p.git",
			"GIT_ATTEMPT": "2"},
	}
	for i, want := range wants {
		for k, v := range want {
			if entries[i][k] != v {
				t.Errorf("entry %d: %s = %v, want %v\n(entry: %v)", i, k, entries[i][k], v, entries[i])
			}
		}
	}
	t.Logf("read back %d entries; first: %v", len(entries), entries[0])
	if t.Failed() {
		t.Logf("journald output:\n%s", jdOut.String())
	}
}

func TestNewLoggerWithoutSystemd(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	var buf bytes.Buffer
	NewLogger(&buf, true).Info("hello", "kind", "applied")
	if !strings.Contains(buf.String(), `"kind":"applied"`) {
		t.Errorf("JSON logger wrote %q", buf.String())
	}
	buf.Reset()
	NewLogger(&buf, false).Info("hello", "kind", "applied")
	if !strings.Contains(buf.String(), "kind=applied") {
		t.Errorf("text logger wrote %q", buf.String())
	}
}

func TestFieldNames(t *testing.T) {
	vars := map[string]string{}
	for _, a := range []slog.Attr{
		slog.String("kind", "drift"), slog.String("message", "m"), slog.String("rule", "r"),
		slog.String("output_fields.proc-name", "x"), slog.String("_hidden", "h"), slog.String("9lives", "n"),
		slog.Group("git", slog.String("url", "u")),
	} {
		addField(vars, "", a)
	}
	want := map[string]string{"RULEKEEPER_KIND": "drift", "RULEKEEPER_MESSAGE": "m", "RULE": "r",
		"OUTPUT_FIELDS_PROC_NAME": "x", "HIDDEN": "h", "F9LIVES": "n", "GIT_URL": "u"}
	if fmt.Sprint(vars) != fmt.Sprint(want) {
		t.Errorf("fields %v, want %v", vars, want)
	}
}
