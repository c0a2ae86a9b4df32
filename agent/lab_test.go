//go:build lab

package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// The TestLab* tests run the rulekeeper binary for real inside the lab's booted systemd
// (packaging/lab/systemd-lab.sh): the container's /etc/falco is the node's, and a real Falco
// (0.32.1 with its noevents plugin, or 0.40.0 with no driver) runs as falco.service. The policy
// is the exam's.

const (
	labUnitFile = "/etc/systemd/system/falco.service"
	labFalcoDir = "/etc/falco"
	labRules    = "/etc/falco/falco_rules.yaml"
	labOverride = "/etc/falco/rules.d/50-rulekeeper.yaml"
	// The lab is shared by every test binary run in it: whoever installs falco.service holds this.
	labLockFile = "/run/lock/rulekeeper-lab-falco.lock"
	labNewShell = "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository"
)

// labNode is a Falco node set up in the container for one test.
type labNode struct {
	t        *testing.T
	repo     string
	rk       string // the rulekeeper binary
	falco    falcoservice.Node
	stateDir string
}

type labSetup struct {
	version    string // the real Falco that runs
	watch      bool   // watch_config_files as falco.yaml says
	execReload bool   // the unit of Falco 0.36+ (ExecReload=kill -1), else 0.32's (restart only)
}

// labNeed fails (never skips) outside the lab.
func labNeed(t *testing.T) {
	t.Helper()
	if got := os.Getenv("RULEKEEPER_LAB"); got != "systemd" {
		t.Fatalf("this test runs rulekeeper against a real systemd inside the lab: bash packaging/lab/systemd-lab.sh up, "+
			"then GOTMPDIR=$(bash packaging/lab/systemd-lab.sh env) go test -exec \"$PWD/packaging/lab/systemd-lab.sh exec\" "+
			"-run '^TestLab' ./agent/ (RULEKEEPER_LAB is %q)", got)
	}
	for _, bin := range []string{"systemctl", "journalctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found in the lab: install the Debian package systemd in its root", bin)
		}
	}
}

// labBinary finds the rulekeeper binary. Go is not in the container: the lab's exec wrapper builds
// it on the host (RULEKEEPER_BIN), else it is looked for in the bound GOTMPDIR.
func labBinary(t *testing.T, repo string) string {
	t.Helper()
	bin := os.Getenv("RULEKEEPER_BIN")
	if bin == "" && os.Getenv("GOTMPDIR") != "" {
		bin = filepath.Join(os.Getenv("GOTMPDIR"), "bin", "rulekeeper")
	}
	st, err := os.Stat(bin)
	if bin == "" || err != nil {
		t.Fatalf("no rulekeeper binary (RULEKEEPER_BIN, else $GOTMPDIR/bin/rulekeeper: %q): Go is not in the lab, build it "+
			"on the host: cd %s && CGO_ENABLED=0 go build -o \"$(bash packaging/lab/systemd-lab.sh env)/bin/\" . ./cmd/rulekeeperd", bin, repo)
	}
	t.Logf("rulekeeper binary %s, built %s", bin, st.ModTime().Format(time.RFC3339))
	return bin
}

// labLock waits for the lab's Falco to be free and holds it until the test ends.
func labLock(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(labLockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", labLockFile, err)
	}
	t.Cleanup(func() { f.Close() })
}

// newLabNode installs the real Falco of s.version with its files in /etc/falco and runs it as
// falco.service; all of it goes when the test ends.
func newLabNode(t *testing.T, s labSetup) *labNode {
	t.Helper()
	labNeed(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	n := &labNode{t: t, repo: repo, rk: labBinary(t, repo), stateDir: t.TempDir()}
	labLock(t)
	labRemoveFalco() // what a test killed half-way left
	t.Cleanup(labRemoveFalco)
	n.falco = falcoservice.Install(t, falcoservice.Setup{Version: s.version, Watch: s.watch, Port: gitserve.FreePort(t)})
	if err := os.WriteFile(labUnitFile, []byte(n.falco.Unit(s.execReload)), 0o644); err != nil {
		t.Fatal(err)
	}
	labSystemctl(t, "daemon-reload")
	labSystemctl(t, "restart", "falco.service")
	n.waitHealthy()
	return n
}

// labRemoveFalco stops falco.service and removes its unit and files.
func labRemoveFalco() {
	exec.Command("systemctl", "stop", "falco.service").Run()
	exec.Command("systemctl", "reset-failed", "falco.service").Run()
	os.Remove(labUnitFile)
	exec.Command("systemctl", "daemon-reload").Run()
	falcoservice.Remove()
}

func labSystemctl(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("systemctl", args...).CombinedOutput(); err != nil {
		t.Fatalf("systemctl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, labJournalText(t, time.Now().Add(-time.Minute)))
	}
}

// waitHealthy waits until Falco has loaded its files and answers /healthz.
func (n *labNode) waitHealthy() {
	n.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", n.falco.Port)); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("falco.service not healthy within 20 s:\n%s", labJournalText(n.t, time.Now().Add(-time.Minute)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apply runs `rulekeeper apply` as an operator would on the node: no --root.
func (n *labNode) apply(args ...string) (code int, stdout, stderr string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.rk, append([]string{"apply", "--state-dir", n.stateDir}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		n.t.Fatalf("rulekeeper apply did not finish within a minute:\n%s\n%s", o.String(), e.String())
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		n.t.Fatal(err)
	}
	return code, o.String(), e.String()
}

// labUnitState is what systemd says of falco.service.
type labUnitState struct {
	Active, Invocation string
	MainPID            int
}

func labUnit(t *testing.T) labUnitState {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "falco.service", "-p", "ActiveState", "-p", "InvocationID", "-p", "MainPID").Output()
	if err != nil {
		t.Fatalf("systemctl show falco.service: %v", err)
	}
	var s labUnitState
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "ActiveState":
			s.Active = v
		case "InvocationID":
			s.Invocation = v
		case "MainPID":
			s.MainPID, _ = strconv.Atoi(v)
		}
	}
	return s
}

// running checks that falco.service runs falco and answers /healthz.
func (n *labNode) running(what string) labUnitState {
	n.t.Helper()
	s := labUnit(n.t)
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.MainPID))
	if s.Active != "active" || strings.TrimSpace(string(comm)) != "falco" {
		n.t.Fatalf("%s: falco.service is %s with main pid %d (%q), want active and running falco:\n%s",
			what, s.Active, s.MainPID, comm, labJournalText(n.t, time.Now().Add(-time.Minute)))
	}
	n.waitHealthy()
	return s
}

// labJournal is what falco.service logged at or after since.
func labJournal(t *testing.T, since time.Time) []initsys.LogLine {
	t.Helper()
	ls, err := initsys.UnitLog(context.Background(), "falco.service", since)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func labJournalText(t *testing.T, since time.Time) string {
	var b strings.Builder
	for _, l := range labJournal(t, since) {
		fmt.Fprintf(&b, "  %s %s\n", l.At.Format("15:04:05.000000"), l.Text)
	}
	return b.String()
}

// labLoaded returns the time Falco last loaded path (0.32.1: `Loading rules from file PATH:`;
// 0.40: `   PATH | schema validation: ok` under `Loading rules from:`) since, and fails when an error
// or a refused restart follows it.
func labLoaded(t *testing.T, since time.Time, path string) time.Time {
	t.Helper()
	var at time.Time
	for _, l := range labJournal(t, since) {
		switch {
		case strings.Contains(l.Text, "Loading rules from file "+path) || strings.Contains(l.Text, path+" | schema validation: ok"):
			at = l.At
		case !at.IsZero() && (strings.Contains(l.Text, "Error") || strings.Contains(l.Text, "hot restart failure")):
			t.Fatalf("falco logged an error after loading %s:\n%s", path, labJournalText(t, since))
		}
	}
	if at.IsZero() {
		t.Fatalf("falco did not log a load of %s:\n%s", path, labJournalText(t, since))
	}
	return at
}

// labRestarts counts Falco's restarts in its journal lines: in process (`SIGHUP received,
// restarting`, on a signal or its own file watch) and by systemd (a new main process). Each line
// counts once although Falco logs it to stderr and syslog alike (UnitLog drops the copy).
func labRestarts(ls []initsys.LogLine) (inProcess, started int) {
	for _, l := range ls {
		switch {
		case strings.Contains(l.Text, "SIGHUP received, restarting"):
			inProcess++
		case strings.HasPrefix(l.Text, "Started falco.service") || strings.HasPrefix(l.Text, "Started Falco"):
			started++
		}
	}
	return inProcess, started
}

func labCount(ls []initsys.LogLine, text string) int {
	n := 0
	for _, l := range ls {
		if strings.Contains(l.Text, text) {
			n++
		}
	}
	return n
}

// labFiles is every file under /etc/falco, by path.
func labFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(labFalcoDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func labSameFiles(t *testing.T, what string, want map[string]string) {
	t.Helper()
	got := labFiles(t)
	for p, w := range want {
		if g, ok := got[p]; !ok || g != w {
			t.Errorf("%s: %s differs from before the apply (present: %t)", what, p, ok)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %s was left behind", what, p)
		}
	}
}

// After a pass that changed the rules, Falco runs with them, through the method the node offers,
// at the cost of exactly one restart; after a pass that changed nothing, Falco is not touched.
func TestLabApplyReloadsSystemd(t *testing.T) {
	for _, c := range []struct {
		name   string
		setup  labSetup
		method string
	}{
		{"0.32.1-restart", labSetup{version: "0.32.1"}, "systemd"},                  // Falco 0.32's unit: RestartUnit
		{"0.32.1-watch", labSetup{version: "0.32.1", watch: true}, "watch"},         // Falco restarts itself on the write
		{"0.40.0-reload", labSetup{version: "0.40.0", execReload: true}, "systemd"}, // Falco 0.36+'s unit: ReloadUnit, a SIGHUP
		{"0.40.0-restart", labSetup{version: "0.40.0"}, "systemd"},
		{"0.40.0-watch", labSetup{version: "0.40.0", watch: true, execReload: true}, "watch"}, // its default config
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newLabNode(t, c.setup)
			exam := filepath.Join(n.repo, "examples/cks-terminal-shell")
			before := n.running("before apply")
			start := time.Now()

			code, out, errs := n.apply("--policy", exam, "--falco", n.falco.Bin)
			took := time.Since(start)
			t.Logf("first apply took %s", took.Round(time.Millisecond))
			if code != 0 {
				t.Fatalf("apply exit %d, want 0:\n%s\n%s\njournal:\n%s", code, out, errs, labJournalText(t, start))
			}
			if want := fmt.Sprintf("Falco reloaded (%s) and running with the new files.", c.method); !strings.Contains(out, want) {
				t.Fatalf("apply output lacks %q:\n%s\n%s", want, out, errs)
			}
			if took > 10*time.Second {
				t.Errorf("apply took %s: a healthy Falco is verified within seconds", took)
			}
			rules, err := os.ReadFile(labRules)
			if err != nil || !strings.Contains(string(rules), labNewShell) {
				t.Fatalf("%s does not carry %q (%v)", labRules, labNewShell, err)
			}
			st, err := os.Stat(labRules)
			if err != nil {
				t.Fatal(err)
			}
			if at := labLoaded(t, start, labRules); at.Before(st.ModTime()) {
				t.Fatalf("falco last loaded %s at %s, before it was written at %s", labRules, at, st.ModTime())
			}
			after := n.running("after apply")
			j := labJournal(t, start)
			hup, started := labRestarts(j)
			switch c.name {
			case "0.32.1-restart", "0.40.0-restart":
				if after.MainPID == before.MainPID || after.Invocation == before.Invocation || hup != 0 || started != 1 {
					t.Fatalf("want one restart by systemd: main pid %d → %d, invocation %s → %s, %d SIGHUP restarts, %d starts:\n%s",
						before.MainPID, after.MainPID, before.Invocation, after.Invocation, hup, started, labJournalText(t, start))
				}
			default: // in process: by ReloadUnit's SIGHUP, or Falco's own watch
				if after != before || hup != 1 || started != 0 {
					t.Fatalf("want exactly one restart in process (%+v → %+v), got %d SIGHUP restarts and %d starts:\n%s",
						before, after, hup, started, labJournalText(t, start))
				}
			}

			// Converged: nothing to write, so nothing reloads Falco.
			again := time.Now()
			code, out, errs = n.apply("--policy", exam, "--falco", n.falco.Bin)
			if code != 0 || !strings.Contains(out, "No changes") || strings.Contains(out, "Falco reloaded") {
				t.Fatalf("second apply: exit %d, want 0, no changes and no reload:\n%s\n%s", code, out, errs)
			}
			time.Sleep(time.Second) // a restart Falco's watch would make shows by then
			if now := n.running("after the second apply"); now != after {
				t.Fatalf("the second apply touched falco.service: %+v → %+v", after, now)
			}
			if j := labJournal(t, again); len(j) > 0 {
				t.Fatalf("falco logged after the second apply, which changed nothing:\n%s", labJournalText(t, again))
			}
		})
	}
}

// Falco 0.32.1 does not come back with the new files (it exits on a rules file it cannot load):
// they are put back, Falco runs again with the old ones, and the same change is refused from then
// on without touching Falco.
func TestLabApplyRollsBack(t *testing.T) {
	n := newLabNode(t, labSetup{version: "0.32.1"})
	// Says Falco 0.44.1 (override: entries) while the node runs 0.32.1, and --falco none leaves no
	// `falco -V` to catch it before the write.
	policyDir := filepath.Join(n.repo, "agent/testdata/lab/override-0.44.1")
	orig := labFiles(t)
	before := n.running("before apply")
	start := time.Now()

	code, out, errs := n.apply("--policy", policyDir, "--falco", "none")
	t.Logf("apply with rollback took %s", time.Since(start).Round(time.Millisecond))
	if code != 1 {
		t.Fatalf("apply exit %d, want 1:\n%s\n%s\njournal:\n%s", code, out, errs, labJournalText(t, start))
	}
	for _, want := range []string{
		"the previous files were put back",
		"last log lines (journalctl -u falco.service)",
		"Could not load rules file " + labOverride,
		"Rule must have properties 'condition', 'output', 'desc', and 'priority'",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("apply's error lacks %q", want)
		}
	}
	if strings.Contains(out, "Falco reloaded") {
		t.Errorf("apply claims a reload:\n%s", out)
	}
	if t.Failed() {
		t.Fatalf("stderr:\n%s", errs)
	}
	t.Logf("apply said:\n%s", errs)

	// Falco did try the new file, failed on it, and runs again with the old files only.
	j := labJournal(t, start)
	if labCount(j, "Loading rules from file "+labOverride) == 0 || labCount(j, "Could not load rules file "+labOverride) == 0 ||
		labCount(j, "Rule must have properties 'condition', 'output', 'desc', and 'priority'") == 0 {
		t.Fatalf("falco never tried %s:\n%s", labOverride, labJournalText(t, start))
	}
	labSameFiles(t, "after the rollback", orig)
	var tail []initsys.LogLine // what the last start logged
	for i := len(j) - 1; i >= 0; i-- {
		if strings.Contains(j[i].Text, "Falco version") {
			tail = j[i:]
			break
		}
	}
	if labCount(tail, "Loading rules from file "+labRules) == 0 || labCount(tail, labOverride) > 0 || labCount(tail, "Error") > 0 {
		t.Fatalf("falco's last start did not load the old files alone:\n%s", labJournalText(t, start))
	}
	after := n.running("after the rollback")
	if after.Invocation == before.Invocation {
		t.Fatalf("want falco.service started again (invocation %s unchanged)", after.Invocation)
	}
	if _, started := labRestarts(j); started != 2 {
		t.Errorf("want two starts (the new files, then the old ones), got %d:\n%s", started, labJournalText(t, start))
	}

	b, err := os.ReadFile(filepath.Join(n.stateDir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Refused string `json:"refused"`
	}
	if err := json.Unmarshal(b, &state); err != nil || state.Refused == "" {
		t.Fatalf("state.json does not record the refused change (%v):\n%s", err, b)
	}

	// The same change again: refused from the state, Falco left alone.
	again := time.Now()
	code, out, errs = n.apply("--policy", policyDir, "--falco", "none")
	if code != 1 || !strings.Contains(errs, "rolled back before") {
		t.Fatalf("second apply: exit %d, want 1 and a refusal naming the earlier rollback:\n%s\n%s", code, out, errs)
	}
	if now := n.running("after the refused apply"); now != after {
		t.Fatalf("the refused apply touched falco.service: %+v → %+v", after, now)
	}
	if j := labJournal(t, again); len(j) > 0 {
		t.Fatalf("falco logged after the refused apply:\n%s", labJournalText(t, again))
	}
	labSameFiles(t, "after the refused apply", orig)
}

// Falco 0.40.0 watching its files refuses an invalid change by itself ("hot restart failure")
// and keeps running its previous rules: the verify notices, the previous files go back, and
// Falco, never stopped, takes them with one restart of its own.
func TestLabApplyRollsBackHotRestartFailure(t *testing.T) {
	n := newLabNode(t, labSetup{version: "0.40.0", watch: true, execReload: true})
	// %proc.aargs is in the newest Falco's fields, not in 0.40.0's; --falco none leaves no
	// `falco -V` to catch it before the write.
	policyDir := filepath.Join(n.repo, "agent/testdata/lab/aargs-0.44.1")
	orig := labFiles(t)
	before := n.running("before apply")
	start := time.Now()

	code, out, errs := n.apply("--policy", policyDir, "--falco", "none")
	took := time.Since(start)
	t.Logf("apply with rollback took %s", took.Round(time.Millisecond))
	if code != 1 {
		t.Fatalf("apply exit %d, want 1:\n%s\n%s\njournal:\n%s", code, out, errs, labJournalText(t, start))
	}
	for _, want := range []string{"the previous files were put back", "hot restart failure", "invalid formatting token proc.aargs"} {
		if !strings.Contains(errs, want) {
			t.Errorf("apply's error lacks %q", want)
		}
	}
	if strings.Contains(errs, "not healthy with the previous files either") {
		t.Errorf("the rollback was not verified")
	}
	if took > 15*time.Second {
		t.Errorf("apply took %s: the refusal shows at once", took)
	}
	if t.Failed() {
		t.Fatalf("stderr:\n%s\njournal:\n%s", errs, labJournalText(t, start))
	}
	t.Logf("apply said:\n%s", errs)
	labSameFiles(t, "after the rollback", orig)
	after := n.running("after the rollback")
	j := labJournal(t, start)
	hup, started := labRestarts(j)
	if after != before || started != 0 || hup != 1 || labCount(j, "hot restart failure") != 1 || labCount(j, "proc.aargs") == 0 {
		t.Fatalf("want falco never stopped (%+v → %+v), one refused restart and one restart onto the old files; got %d SIGHUP restarts, %d starts:\n%s",
			before, after, hup, started, labJournalText(t, start))
	}
}
