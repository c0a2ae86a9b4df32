package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var standin string

// The tests run the built program: signals, exit codes and inotify are what matters.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "falcostandin")
	if err != nil {
		panic(err)
	}
	standin = filepath.Join(dir, "falco")
	out, err := exec.Command("go", "build", "-o", standin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the stand-in: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const goodRule = `- rule: Shell
  desc: a shell
  condition: proc.name = bash
  output: "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository"
  priority: NOTICE
`

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runStandin(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(standin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func TestVersion(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "falco.yaml")
	out, _, _ := runStandin(t, []string{"FALCO_STANDIN_VERSION="}, "-c", cfg, "--version")
	if !strings.Contains(out, "Falco version: 0.32.1\n") {
		t.Errorf("default version: %q", out)
	}
	write(t, filepath.Join(dir, "standin-version"), "0.40.0\n")
	out, _, _ = runStandin(t, []string{"FALCO_STANDIN_VERSION="}, "-c", cfg, "--version")
	if !strings.Contains(out, "Falco version: 0.40.0\n") {
		t.Errorf("version from file: %q", out)
	}
	out, _, _ = runStandin(t, []string{"FALCO_STANDIN_VERSION=0.44.1"}, "-c", cfg, "--version")
	if !strings.Contains(out, "Falco version: 0.44.1\n") || !strings.Contains(out, "Driver version:") {
		t.Errorf("version from env: %q", out)
	}
}

func TestValidate(t *testing.T) {
	override := `- rule: Shell
  output: "NEW SHELL!!! %proc.name"
  override:
    output: replace
`
	cases := []struct {
		name, version, text, want string // want "" means Ok
	}{
		{"good", "0.32.1", goodRule, ""},
		{"empty file", "0.32.1", "# only comments\n", ""},
		{"unknown field class", "0.32.1", strings.Replace(goodRule, "%user.uid", "%usr.uid", 1), "invalid formatting token usr.uid"},
		{"unknown field with known class passes, as in 0.32.1", "0.32.1", strings.Replace(goodRule, "%user.uid", "%user.uidd", 1), ""},
		{"missing output", "0.32.1", "- rule: X\n  desc: d\n  condition: evt.num > 0\n  priority: INFO\n", "Rule must have properties 'condition', 'output', 'desc', and 'priority'"},
		{"bad priority", "0.32.1", strings.Replace(goodRule, "NOTICE", "LOUD", 1), "Invalid priority\n---\n- rule: Shell"},
		{"not yaml", "0.32.1", "- rule: [unclosed\n", "Could not load YAML file: yaml: "},
		{"not a list", "0.32.1", "rule: X\n", "Rules content is not yaml array of objects"},
		// 0.32.1 passes over the unknown key: the entry is a rule without condition.
		{"override before 0.37", "0.32.1", goodRule + override, "Rule must have properties"},
		{"override key beside a full definition before 0.37", "0.32.1", strings.TrimSuffix(goodRule, "\n") + "\n  override:\n    output: replace\n", ""},
		{"unknown top-level item", "0.32.1", "- foo: bar\n", ""},
		{"override from 0.37", "0.37.0", goodRule + override, ""},
		{"override must name every key", "0.37.0", goodRule + override + "  priority: ERROR\n", "Unexpected key 'priority'"},
		{"newer loader names the file and the code", "0.40.0", strings.Replace(goodRule, "%user.uid", "%usr.uid", 1), "LOAD_ERR_COMPILE_OUTPUT (Error compiling output): invalid formatting token usr.uid"},
		{"override of an unknown rule", "0.37.0", override, "no rule by that name"},
		{"append to an unknown rule", "0.32.1", "- rule: Y\n  condition: and evt.num > 0\n  append: true\n", "no rule by that name"},
		{"append needs condition or exceptions", "0.32.1", goodRule + "- rule: Shell\n  output: x\n  append: true\n", "Appended rule must have exceptions or condition"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "rules.yaml")
			write(t, f, c.text)
			out, errOut, code := runStandin(t, []string{"FALCO_STANDIN_VERSION=" + c.version}, "-V", f)
			if c.want == "" {
				if code != 0 || (out != "Ok\n" && out != f+": Ok\n") {
					t.Fatalf("want Ok, got code %d stdout %q stderr %q", code, out, errOut)
				}
				return
			}
			if code != 1 || !strings.Contains(out, c.want) || !strings.Contains(errOut, "Error: ") || !strings.Contains(errOut, c.want) {
				t.Fatalf("want exit 1 with %q naming %s, got code %d stdout %q stderr %q", c.want, f, code, out, errOut)
			}
		})
	}
}

// upstreamRules are the verbatim upstream rules files (their origin is noted beside them).
const upstreamRules = "../../../reconcile/testdata/falco/"

func TestValidateRealRulesInOrder(t *testing.T) {
	local := filepath.Join(t.TempDir(), "local.yaml")
	// A later file may redefine a vendor rule entirely, the 0.32 way to change an output.
	write(t, local, strings.Replace(goodRule, "Shell", "Terminal shell in container", 1))
	out, errOut, code := runStandin(t, nil, "-V", upstreamRules+"falco_rules-0.32.1.yaml", "-V", local)
	if code != 0 || out != upstreamRules+"falco_rules-0.32.1.yaml: Ok\n"+local+": Ok\n" {
		t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
	}
	out, _, code = runStandin(t, []string{"FALCO_STANDIN_VERSION=0.44.1"}, "-V", upstreamRules+"falco_rules-5.1.0.yaml")
	if code != 0 || out != upstreamRules+"falco_rules-5.1.0.yaml: Ok\n" {
		t.Fatalf("5.1.0 rules: code %d stdout %q", code, out)
	}
}

// daemonSetup writes a config that loads one file and one folder.
func daemonSetup(t *testing.T, extra string) (dir, cfg, rule string) {
	dir = t.TempDir()
	cfg = filepath.Join(dir, "falco.yaml")
	rule = filepath.Join(dir, "falco_rules.yaml")
	write(t, rule, goodRule)
	write(t, filepath.Join(dir, "rules.d", "b.yaml"), "")
	write(t, filepath.Join(dir, "rules.d", "a.yaml"), "")
	write(t, cfg, fmt.Sprintf("rules_file:\n  - %s\n  - %s\nwebserver:\n  enabled: false\n%s", rule, filepath.Join(dir, "rules.d"), extra))
	return dir, cfg, rule
}

type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{log: filepath.Join(dir, "standin.log"), done: make(chan error, 1)}
	p.cmd = exec.Command(standin, args...)
	p.cmd.Env = append(os.Environ(), "FALCO_STANDIN_LOG="+p.log, "FALCO_STANDIN_VERSION=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) waitLog(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(p.log)
		if strings.Count(string(b), text) >= n {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("stand-in exited (%v) before logging %q %d times; log:\n%s", err, text, n, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(p.log)
	t.Fatalf("%q not logged %d times within 5 s; log:\n%s", text, n, b)
}

func (p *proc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		p.done <- nil
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(5 * time.Second):
		t.Fatal("stand-in did not exit within 5 s")
		return -1
	}
}

func TestRunLoadsInOrderAndReloadsOnSIGHUP(t *testing.T) {
	dir, cfg, rule := daemonSetup(t, "watch_config_files: false\n")
	p := start(t, dir, "-c", cfg, "--pidfile="+filepath.Join(dir, "falco.pid"))
	p.waitLog(t, "Loading rules from file", 3)
	b, _ := os.ReadFile(p.log)
	ia, ib := strings.Index(string(b), "rules.d/a.yaml"), strings.Index(string(b), "rules.d/b.yaml")
	if !strings.Contains(string(b), "Loading rules from file "+rule+":") || ia < 0 || ib < ia {
		t.Fatalf("want the file then the folder in alphabetical order; log:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "falco.pid")); err == nil {
		t.Error("pid file written without -d; Falco 0.32.1 writes it only when it daemonizes")
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "SIGHUP received, restarting...", 1)
	p.waitLog(t, "Loading rules from file", 6)

	write(t, rule, strings.Replace(goodRule, "%user.uid", "%usr.uid", 1))
	p.cmd.Process.Signal(syscall.SIGHUP)
	if code := p.waitExit(t); code != 1 {
		t.Fatalf("exit code %d after SIGHUP with an invalid file, want 1", code)
	}
	p.waitLog(t, "Error: Could not load rules file "+rule, 1)
	p.waitLog(t, "invalid formatting token usr.uid", 1)
}

func TestRunStopsOnSIGTERM(t *testing.T) {
	dir, cfg, _ := daemonSetup(t, "")
	p := start(t, dir, "-c", cfg)
	p.waitLog(t, "Loading rules from file", 3)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

func TestRunRefusesInvalidFileAtStart(t *testing.T) {
	dir, cfg, rule := daemonSetup(t, "")
	write(t, rule, "- rule: X\n  desc: d\n")
	p := start(t, dir, "-c", cfg)
	if code := p.waitExit(t); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	p.waitLog(t, "Rule must have properties 'condition', 'output', 'desc', and 'priority'", 1)
}

func TestRunWatchesItsFiles(t *testing.T) {
	dir, cfg, rule := daemonSetup(t, "") // watch_config_files absent: on, as in Falco
	p := start(t, dir, "-c", cfg)
	p.waitLog(t, "Loading rules from file", 3)
	// Atomic replace (temp + rename), as rulekeeper writes.
	tmp := rule + ".tmp"
	write(t, tmp, goodRule+"\n")
	if err := os.Rename(tmp, rule); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "changed, restarting...", 1)
	p.waitLog(t, "Loading rules from file", 6)
	// A new file in the rules folder restarts it too.
	write(t, filepath.Join(dir, "rules.d", "c.yaml"), goodRule)
	p.waitLog(t, "Loading rules from file", 10)
	// An invalid file ends it, as 0.32.1 does.
	write(t, filepath.Join(dir, "rules.d", "c.yaml"), "- rule: [\n")
	if code := p.waitExit(t); code != 1 {
		t.Fatalf("exit code %d after an invalid file was written, want 1", code)
	}
}

func TestDaemonWritesPidFile(t *testing.T) {
	dir, cfg, _ := daemonSetup(t, "")
	pidFile := filepath.Join(dir, "falco.pid")
	_, errOut, code := runStandin(t, []string{"FALCO_STANDIN_LOG=" + filepath.Join(dir, "log")}, "-c", cfg, "-d", "--pidfile="+pidFile)
	if code != 0 {
		t.Fatalf("-d: exit %d: %s", code, errOut)
	}
	var pid int
	for i := 0; i < 250 && pid == 0; i++ {
		b, _ := os.ReadFile(pidFile)
		fmt.Sscanf(string(b), "%d", &pid)
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("no pid file within 5 s after -d")
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if strings.TrimSpace(string(comm)) != "falco" {
		t.Fatalf("pid %d is %q, want falco", pid, comm)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebServer(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	cfg, rule := filepath.Join(dir, "falco.yaml"), filepath.Join(dir, "r.yaml")
	write(t, rule, goodRule)
	write(t, cfg, fmt.Sprintf("rules_files: [%s]\nwebserver:\n  enabled: true\n  listen_port: %d\n  prometheus_metrics_enabled: true\nmetrics:\n  enabled: true\n", rule, port))
	p := start(t, dir, "-c", cfg)
	p.waitLog(t, "Starting internal webserver", 1)
	if code, body := get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); code != 200 || body != `{"status": "ok"}` {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	// sha256 of goodRule
	_, body := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	want := fmt.Sprintf(`falcosecurity_falco_sha256_rules_files_info{file_name=%q,sha256=`, rule)
	if !strings.Contains(body, want) || !strings.Contains(body, "falcosecurity_falco_reload_timestamp_nanoseconds ") {
		t.Fatalf("/metrics lacks %s:\n%s", want, body)
	}
}
