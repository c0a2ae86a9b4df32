package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Convergence by wave query on cases the fleet's story does not
// have, on series written by hand: promtool (Prometheus's own query
// engine) evaluates the dashboard's expression over eight nodes in three
// waves, one of another job and one whose policy has no rollout block
// (wave -1); each wave's share must be the nodes on the newest commit and
// converged over the wave's nodes, the other two left out.
func TestDashboardWaveQuery(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is needed: install the Debian package prometheus (apt-get install prometheus)")
	}
	var expr string
	for _, p := range readDashboard(t).Panels {
		if p.Title == "Convergence by wave" {
			expr = p.Targets[0].Expr
		}
	}
	if expr == "" {
		t.Fatal("no panel Convergence by wave")
	}
	r := runner{}
	expr = r.expand(expr)

	type node struct {
		job, name, commit string
		wave, converged   int
	}
	nodes := []node{
		{"rulekeeper", "n1", "new", 0, 1}, {"rulekeeper", "n2", "new", 0, 1}, // wave 0: 2 of 2
		{"rulekeeper", "n3", "new", 1, 0}, {"rulekeeper", "n4", "old", 1, 1}, // wave 1: 0 of 2
		{"rulekeeper", "n5", "old", 2, 1}, {"rulekeeper", "n6", "new", 2, 1}, // wave 2: 3 of 4
		{"rulekeeper", "n7", "new", 2, 1}, {"rulekeeper", "n8", "new", 2, 1},
		{"other", "n9", "old", 0, 1},        // another job: not counted
		{"rulekeeper", "n10", "new", -1, 1}, // no rollout block: no wave
	}
	var series []map[string]string
	add := func(s string, v int) {
		series = append(series, map[string]string{"series": s, "values": fmt.Sprintf("%dx10", v)})
	}
	for _, n := range nodes {
		sel := fmt.Sprintf(`{job=%q, instance=%q`, n.job, n.name)
		add("rulekeeper_rollout_wave"+sel+"}", n.wave)
		add("rulekeeper_converged"+sel+"}", n.converged)
		when := map[string]int{"old": 100, "new": 200}[n.commit]
		add(fmt.Sprintf("rulekeeper_applied_commit_timestamp_seconds%s, commit=%q}", sel, n.commit), when)
	}
	test := map[string]any{
		"rule_files":          []string{},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":     "1m",
			"input_series": series,
			"promql_expr_test": []any{map[string]any{
				"expr": expr, "eval_time": "5m",
				"exp_samples": []any{
					map[string]any{"labels": `{wave="0"}`, "value": 1},
					map[string]any{"labels": `{wave="1"}`, "value": 0},
					map[string]any{"labels": `{wave="2"}`, "value": 0.75},
				},
			}},
		}},
	}
	b, err := json.MarshalIndent(test, "", "  ") // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "wave.yaml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s\nthe query:\n%s", err, out, expr)
	}
}
