package fleet

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/fleetlab"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
)

// The fleet view of six real daemons scraped by a real Prometheus
// (internal/testkit/fleetlab): each node shows as what happened to it, the
// commits are counted, and the exit code says the fleet is not settled; a
// job of one steady node is settled.
func TestFleetView(t *testing.T) {
	f := fleetlab.Run(t)
	url := f.Prom.URL

	t.Run("table", func(t *testing.T) {
		code, out, errOut := run(t, "--prometheus", url)
		t.Logf("rulekeeper fleet:\n%s", out)
		if code != ExitUnsettled || errOut != "" {
			t.Fatalf("exit %d (stderr %q), want %d", code, errOut, ExitUnsettled)
		}
		rows := tableRows(out)
		for _, want := range [][]string{
			{"COMMIT", "COMMITTED", "NODES"},
			{f.Newest[:8], "*", "3", "newest"},
			{f.First[:8], "*", "2"},
			{"NODE", "WAVE", "COMMIT", "STATE"},
			{fleetlab.Drifted, "1", f.Newest[:8], "drifted (put back) ×1 in the last hour"},
			{fleetlab.Tampered, "1", f.Newest[:8], "tampered with ×1 in the last hour"},
			{fleetlab.Rollback, "0", f.First[:8], "behind, not converged, rolled back ×1 in the last hour"},
			{fleetlab.Pinned, "2", f.First[:8], "behind"},
			{fleetlab.Silent, "-", "-", "silent: Prometheus cannot scrape it"},
		} {
			if !slices.ContainsFunc(rows, func(r []string) bool { return rowMatches(r, want) }) {
				t.Errorf("no row %q in the table", want)
			}
		}
		for line := range strings.SplitSeq(out, "\n") {
			if strings.HasSuffix(line, " ") {
				t.Errorf("trailing spaces: %q", line)
			}
		}
		if strings.Contains(out, fleetlab.Steady) {
			t.Errorf("the steady node is listed: nothing happened to it")
		}
		for _, want := range []string{"1 of 6 nodes on the newest commit, converged, nothing in the last hour.",
			"Not settled: 3 of 6 nodes are silent, behind or not converged."} {
			if !strings.Contains(out, want) {
				t.Errorf("the table does not say %q", want)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, _ := run(t, "--prometheus", url, "--json")
		if code != ExitUnsettled {
			t.Fatalf("exit %d, want %d", code, ExitUnsettled)
		}
		var v View
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if v.Newest != f.Newest || v.Job != fleetlab.Job || len(v.Nodes) != 6 || len(v.Commits) != 2 {
			t.Fatalf("view: newest %s, job %s, %d nodes, %d commits", v.Newest, v.Job, len(v.Nodes), len(v.Commits))
		}
		n := map[string]Node{}
		for _, x := range v.Nodes {
			n[x.Instance] = x
		}
		if x := n[fleetlab.Steady]; !x.Up || !x.Converged || x.Behind || x.Commit != f.Newest || len(x.Problems) != 0 ||
			x.Wave == nil || *x.Wave != 0 || x.Rollout != "applied" {
			t.Errorf("steady node: %+v", x)
		}
		if x := n[fleetlab.Rollback]; x.RolledBack != 1 || !x.Behind || x.Converged || x.Commit != f.First {
			t.Errorf("rolled back node: %+v", x)
		}
		if x := n[fleetlab.Drifted]; x.DriftRestored != 1 || x.DriftLeft != 0 || !x.Converged {
			t.Errorf("drifted node: %+v", x)
		}
		if x := n[fleetlab.Tampered]; x.Tampered != 1 {
			t.Errorf("tampered node: %+v", x)
		}
		if x := n[fleetlab.Silent]; x.Up || x.Commit != "" {
			t.Errorf("silent node: %+v", x)
		}
		if c := v.Commits[0]; c.Commit != f.Newest || c.Nodes != 3 || c.Time.IsZero() {
			t.Errorf("first commit row: %+v, want the newest with 3 nodes", c)
		}
	})

	t.Run("settled", func(t *testing.T) {
		code, out, errOut := run(t, "--prometheus", url, "--job", fleetlab.SteadyJob)
		if code != ExitSettled || !strings.Contains(out, "1 of 1 nodes on the newest commit") || strings.Contains(out, "Not settled") {
			t.Fatalf("exit %d, want %d:\n%s%s", code, ExitSettled, out, errOut)
		}
	})

	t.Run("unknown job", func(t *testing.T) {
		code, out, errOut := run(t, "--prometheus", url, "--job", `nosuch"job`)
		if code != ExitError || out != "" || !strings.Contains(errOut, `has no target of job "nosuch\"job"`) || !strings.Contains(errOut, url) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	// As a process: rulekeeper hands the command to rulekeeperd.
	t.Run("process", func(t *testing.T) {
		bin := testbuild.Programs(t)
		cmd := exec.Command(bin, "fleet", "--prometheus", url)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if cmd.ProcessState.ExitCode() != ExitUnsettled || !strings.Contains(out.String(), "silent: Prometheus cannot scrape it") {
			t.Fatalf("rulekeeper fleet: %v\n%s%s", err, out.String(), errOut.String())
		}
		cmd = exec.Command(bin, "fleet", "--prometheus", url, "--job", fleetlab.SteadyJob)
		if err := cmd.Run(); err != nil {
			t.Fatalf("rulekeeper fleet on the steady job: %v, want exit 0", err)
		}
		cmd = exec.Command(filepath.Join(filepath.Dir(bin), "rulekeeperd"), "fleet")
		got, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != ExitError || !strings.Contains(string(got), "usage: rulekeeper fleet --prometheus URL") {
			t.Fatalf("without --prometheus: exit %d\n%s", cmd.ProcessState.ExitCode(), got)
		}
	})
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// tableRows splits the printed table into rows of columns (two spaces or
// more apart).
func tableRows(out string) [][]string {
	var rows [][]string
	for line := range strings.SplitSeq(out, "\n") {
		var cols []string
		for c := range strings.SplitSeq(line, "  ") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
		rows = append(rows, cols)
	}
	return rows
}

// rowMatches compares a row with a wanted one, "*" matching any column.
func rowMatches(row, want []string) bool {
	if len(row) != len(want) {
		return false
	}
	for i := range want {
		if want[i] != "*" && row[i] != want[i] {
			return false
		}
	}
	return true
}
