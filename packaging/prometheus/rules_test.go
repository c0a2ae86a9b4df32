// Package prometheus holds the alerting rules a fleet's Prometheus loads
// (rulekeeper-alerts.yaml, shipped in the packages) and their tests:
// promtool's own check and unit tests, and a running agent's /metrics.
package prometheus

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const rulesFile = "rulekeeper-alerts.yaml"

// promtool finds Debian's promtool; the test command installs it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is needed to check the alert rules: install the Debian package prometheus (apt-get install prometheus)")
	}
	return p
}

// unitTests are promtool's unit-test files for the rules.
func unitTests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("tests/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool unit tests in tests/: %v", err)
	}
	return files
}

func TestRulesCheck(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
}

func TestRulesUnitTests(t *testing.T) {
	out, err := exec.Command(promtool(t), append([]string{"test", "rules"}, unitTests(t)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// Each alert's firing case is tested: an alert that can no longer fire
// fails promtool's unit tests.
func TestRulesUnitTestsCatchAnAlertThatNeverFires(t *testing.T) {
	tool := promtool(t)
	src, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range loadRules(t) {
		t.Run(r.Alert, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "tests"), os.DirFS("tests")); err != nil {
				t.Fatal(err)
			}
			broken := withExpr(t, src, r.Alert, "vector(1) == 0")
			if err := os.WriteFile(filepath.Join(dir, rulesFile), broken, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tool, append([]string{"test", "rules"}, unitTests(t)...)...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("with %s never firing, promtool test rules still passes:\n%s", r.Alert, out)
			}
			if !strings.Contains(string(out), "alertname: "+r.Alert) {
				t.Fatalf("with %s never firing, promtool fails for another reason:\n%s", r.Alert, out)
			}
		})
	}
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", rulesFile)
	}
	return rules
}

// withExpr is the rules file with one alert's expression replaced.
func withExpr(t *testing.T, src []byte, alert, expr string) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	var found bool
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			var isAlert bool
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "alert" && n.Content[i+1].Value == alert {
					isAlert = true
				}
			}
			for i := 0; isAlert && i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "expr" {
					n.Content[i+1].Value, n.Content[i+1].Style, found = expr, 0, true
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if !found {
		t.Fatalf("no alert %s with an expr in %s", alert, rulesFile)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every alert is tested firing and not firing, carries a severity, a
// summary, a description naming the node and the commit, and a runbook
// that is a section of the README.
func TestRulesEveryAlertTestedAndDocumented(t *testing.T) {
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range unitTests(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var u struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(b, &u); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range u.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := headingAnchors(string(readme))
	for _, r := range loadRules(t) {
		if !firing[r.Alert] || !quiet[r.Alert] {
			t.Errorf("%s: tested firing %v, not firing %v; want both", r.Alert, firing[r.Alert], quiet[r.Alert])
		}
		if s := r.Labels["severity"]; !slices.Contains([]string{"info", "warning", "critical"}, s) {
			t.Errorf("%s: severity %q, want info, warning or critical", r.Alert, s)
		}
		if r.Annotations["summary"] == "" {
			t.Errorf("%s: no summary", r.Alert)
		}
		if d := r.Annotations["description"]; !strings.Contains(d, "instance") || !strings.Contains(d, "commit") {
			t.Errorf("%s: the description names no instance or no commit: %q", r.Alert, d)
		}
		url := r.Annotations["runbook_url"]
		_, anchor, ok := strings.Cut(url, "/README.md#")
		if !ok || !strings.HasPrefix(url, "https://github.com/rulekeeper/rulekeeper/blob/main/README.md#") {
			t.Errorf("%s: runbook_url %q is not a README section", r.Alert, url)
		} else if !anchors[anchor] {
			t.Errorf("%s: runbook_url %q: README.md has no heading with anchor %q", r.Alert, url, anchor)
		}
	}
}

// headingAnchors are the anchors GitHub gives README headings: lower case,
// spaces to hyphens, punctuation other than - and _ dropped.
func headingAnchors(md string) map[string]bool {
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		h = drop.ReplaceAllString(strings.ToLower(h), "")
		out[strings.ReplaceAll(h, " ", "-")] = true
	}
	return out
}
