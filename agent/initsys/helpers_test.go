package initsys

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// standin is the stand-in Falco binary, named falco as the process checks expect. The lab's
// exec wrapper builds it on the host (where Go is) and passes it in RULEKEEPER_FALCO_STANDIN.
var standin string

func TestMain(m *testing.M) {
	standin = os.Getenv("RULEKEEPER_FALCO_STANDIN")
	var dir string
	if standin == "" {
		var err error
		if dir, err = os.MkdirTemp("", "initsys-standin"); err != nil {
			panic(err)
		}
		standin = filepath.Join(dir, "falco")
		cmd := exec.Command("go", "build", "-o", standin, "../../internal/testkit/falcostandin")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the stand-in falco: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

const goodRule = `- rule: Terminal shell in container
  desc: a shell
  condition: proc.name = bash
  output: "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository"
  priority: NOTICE
`

var badRule = strings.Replace(goodRule, "%user.uid", "%usr.uid", 1)

// node is a Falco layout in a temp dir: config, one rules file, pid file and log under it.
type node struct {
	dir, config, rules, pidFile, log string
}

func newNode(t testing.TB, confExtra string) node {
	t.Helper()
	dir := t.TempDir()
	n := node{dir: dir, config: filepath.Join(dir, "falco.yaml"), rules: filepath.Join(dir, "falco_rules.yaml"),
		pidFile: filepath.Join(dir, "falco.pid"), log: filepath.Join(dir, "falco.log")}
	writeFile(t, n.rules, goodRule)
	writeFile(t, n.config, fmt.Sprintf("rules_file:\n  - %s\n%s", n.rules, confExtra))
	return n
}

func (n node) options() Options {
	return Options{FalcoConfig: n.config, PidFile: n.pidFile, LogFile: n.log, MinGap: 300 * time.Millisecond,
		Settle: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as rulekeeper writes
		t.Fatal(err)
	}
}

// startDaemon starts the stand-in with -d (it writes its pid file) and returns its pid.
func (n node) startDaemon(t testing.TB) int {
	t.Helper()
	cmd := exec.Command(standin, "-c", n.config, "-d", "--pidfile="+n.pidFile)
	cmd.Env = append(os.Environ(), "FALCO_STANDIN_LOG="+n.log)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("starting the stand-in: %v: %s", err, errb.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if pid, err := readPidFile(n.pidFile); err == nil && isFalco(pid) {
			t.Cleanup(func() { stopPid(pid) })
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("stand-in wrote no pid file within 5 s; log:\n%s", readLog(n.log))
	return 0
}

func stopPid(pid int) {
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// needLab fails (never skips) a test that needs the real init system of the lab.
func needLab(t testing.TB, kind string) {
	t.Helper()
	if got := os.Getenv("RULEKEEPER_LAB"); got != kind {
		t.Fatalf("this test needs a real %s and runs inside the lab: bash packaging/lab/systemd-lab.sh up, "+
			"then GOTMPDIR=$(bash packaging/lab/systemd-lab.sh env) go test -exec \"$PWD/packaging/lab/systemd-lab.sh %s\" "+
			"-run '^TestLab%s' ./agent/initsys/ (RULEKEEPER_LAB is %q)", kind, map[string]string{"systemd": "exec", "sysv": "sysv"}[kind],
			map[string]string{"systemd": "Systemd", "sysv": "SysV"}[kind], got)
	}
}

func mustDetect(t testing.TB, o Options, want Method) Reloader {
	t.Helper()
	r, why, err := Detect(context.Background(), o)
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	if r.Method() != want {
		t.Fatalf("Detect chose %s (%s), want %s", r.Method(), why, want)
	}
	t.Logf("detected %s: %s", r.Method(), why)
	return r
}

func pidString(pid int) string { return strconv.Itoa(pid) }
