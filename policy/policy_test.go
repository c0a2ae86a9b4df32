package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite the want.* files of testdata/<case>/ from the current output")

// Each case is a policy directory under testdata/ evaluated for one node.
// want.diags lists the diagnostics as "severity file:line,col-line,col: summary"
// and their detail; want.txt is the text rendering; want.desired.json, when
// the policy is valid, what it asks of the node.
var cases = []struct {
	name string
	node Node
	json bool // also compare the JSON rendering (want.json)
}{
	{name: "exam", node: Node{Hostname: "node1", OS: "debian", Labels: map[string]string{"env": "prod"}}},
	{name: "schema", node: Node{Hostname: "node1", OS: "debian", Labels: map[string]string{"env": "prod"}}},
	{name: "syntax", node: UnknownNode(nil)},
	{name: "unknown-names", node: UnknownNode(nil)},
	{name: "types", node: UnknownNode(nil)},
	{name: "falco-block", node: UnknownNode(nil)},
	{name: "dup-rules", node: UnknownNode(nil)},
	{name: "output-conflicts", node: UnknownNode(nil)},
	{name: "output-text", node: UnknownNode(nil)},
	{name: "priority", node: UnknownNode(nil)},
	{name: "manages-nothing", node: UnknownNode(nil)},
	{name: "fields", node: UnknownNode(nil), json: true},
	{name: "labels-when", node: Node{Hostname: "web-1", OS: "debian", Labels: map[string]string{"env": "prod"}}},
	{name: "labels-missing", node: Node{Hostname: "web-1", OS: "debian", Labels: map[string]string{"env": "prod"}}},
	{name: "unknown-node", node: UnknownNode(nil)},
	{name: "rollout", node: Node{Hostname: "web-1", OS: "debian"}},
	{name: "rollout-errors", node: UnknownNode(nil)},
	{name: "rollout-node", node: Node{Hostname: "web-1", Labels: map[string]string{"env": "prod"}}},
	{name: "rollout-nodelay", node: UnknownNode(nil)},
	{name: "rollout-names", node: UnknownNode(nil)},
	{name: "tuning", node: Node{Hostname: "web-1", OS: "debian", Labels: map[string]string{"env": "prod"}}},
	{name: "tuning-errors", node: UnknownNode(nil)},
	{name: "conditions", node: Node{Hostname: "web-1", OS: "debian", Labels: map[string]string{"env": "prod"}}},
	{name: "condition-errors", node: UnknownNode(nil)},
	{name: "exceptions", node: Node{Hostname: "web-1", OS: "debian", Labels: map[string]string{"env": "prod"}}},
	{name: "exceptions-errors", node: Node{Hostname: "web-1", OS: "debian", FalcoVersion: "0.32.1"}},
}

func TestCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join("testdata", c.name)
			p, diags := Load(dir)
			d, more := p.Evaluate(c.node)
			diags = append(diags, more...)

			golden(t, filepath.Join(dir, "want.diags"), []byte(compact(diags)))
			var txt bytes.Buffer
			if err := WriteDiagnostics(&txt, p.Files(), diags, false, 0); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "want.txt"), txt.Bytes())
			if c.json {
				var js bytes.Buffer
				if err := WriteDiagnostics(&js, p.Files(), diags, true, 0); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join(dir, "want.json"), js.Bytes())
			}
			if !diags.HasErrors() {
				js, err := json.MarshalIndent(d, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join(dir, "want.desired.json"), append(js, '\n'))
			}
		})
	}
}

func compact(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		where := "-"
		if d.Subject != nil {
			where = d.Subject.String()
		}
		fmt.Fprintf(&b, "%s %s: %s\n    %s\n", sev, where, d.Summary, d.Detail)
	}
	return b.String()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./policy -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The checks of the cases above, spelled out where a golden file could hide
// a regression: the exam typo lands on the token, with its suggestion.
func TestUnknownFieldRange(t *testing.T) {
	p, diags := Load(filepath.Join("testdata", "fields"))
	_, more := p.Evaluate(UnknownNode(nil))
	diags = append(diags, more...)
	var found *hcl.Diagnostic
	for _, d := range diags {
		if d.Summary == "Unknown Falco field %user.uidd" {
			found = d
		}
	}
	if found == nil {
		t.Fatalf("no diagnostic for %%user.uidd in:\n%s", compact(diags))
	}
	want := "testdata/fields/policy.hcl:8,25-35"
	if got := found.Subject.String(); got != want {
		t.Errorf("range = %s, want %s", got, want)
	}
	if !strings.HasPrefix(found.Detail, "Did you mean %user.uid?") {
		t.Errorf("detail = %q, want a suggestion of %%user.uid", found.Detail)
	}
}

func TestEvaluateLabels(t *testing.T) {
	p, diags := Load(filepath.Join("testdata", "labels-when"))
	if diags.HasErrors() {
		t.Fatal(compact(diags))
	}
	for _, tc := range []struct {
		env   string
		rules []string
	}{
		{"dev", nil},
		{"prod", []string{"Terminal shell in container", "Write below etc"}},
		{"test", []string{"Terminal shell in container"}},
	} {
		d, diags := p.Evaluate(Node{Hostname: "web-1", Labels: map[string]string{"env": tc.env}})
		if diags.HasErrors() {
			t.Fatalf("env=%s: %s", tc.env, compact(diags))
		}
		var names []string
		for _, r := range d.Rules {
			names = append(names, r.Name)
		}
		if fmt.Sprint(names) != fmt.Sprint(tc.rules) {
			t.Errorf("env=%s: rules %q, want %q", tc.env, names, tc.rules)
		}
	}
}

func TestMissingLabelIsAnErrorWithRange(t *testing.T) {
	p, _ := Load(filepath.Join("testdata", "labels-missing"))
	_, diags := p.Evaluate(Node{Labels: map[string]string{"env": "prod"}})
	if len(diags) != 1 {
		t.Fatalf("want exactly one diagnostic, got:\n%s", compact(diags))
	}
	if got, want := diags[0].Subject.String(), "testdata/labels-missing/policy.hcl:2,21-26"; got != want {
		t.Errorf("range = %s, want %s (%s)", got, want, diags[0].Summary)
	}
}

func TestLoadErrors(t *testing.T) {
	_, diags := Load(filepath.Join("testdata", "no-such-dir"))
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "no-such-dir") {
		t.Errorf("missing directory: %s", compact(diags))
	}
	_, diags = Load("fields") // a directory without *.hcl files
	if !diags.HasErrors() || diags[0].Summary != "No policy files" {
		t.Errorf("directory without policy: %s", compact(diags))
	}
}

// A rule block with an empty or blank name is refused at its label.
func TestEmptyRuleName(t *testing.T) {
	for _, name := range []string{"", "  "} {
		dir := t.TempDir()
		src := fmt.Sprintf("rule %q {\n  priority = \"NOTICE\"\n}\n", name)
		if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, diags := Load(dir)
		if !diags.HasErrors() || diags[0].Summary != "Empty rule name" || diags[0].Subject == nil || diags[0].Subject.Start.Line != 1 {
			t.Errorf("rule %q: %v", name, diags)
		}
	}
}

// The JSON rendering counts errors and warnings apart.
func TestDiagnosticCounts(t *testing.T) {
	p, diags := Load(filepath.Join("testdata", "manages-nothing"))
	_, more := p.Evaluate(UnknownNode(nil))
	diags = append(diags, more...)
	var errs, warns int
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			warns++
		} else {
			errs++
		}
	}
	if warns == 0 {
		t.Fatalf("no warning in testdata/manages-nothing: %v", diags)
	}
	var js bytes.Buffer
	if err := WriteDiagnostics(&js, p.Files(), diags, true, 0); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Errors   int `json:"error_count"`
		Warnings int `json:"warning_count"`
		Diags    []struct {
			Severity string `json:"severity"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Errors != errs || doc.Warnings != warns || len(doc.Diags) != errs+warns {
		t.Fatalf("counts %d errors, %d warnings; want %d, %d:\n%s", doc.Errors, doc.Warnings, errs, warns, js.Bytes())
	}
	w := 0
	for _, d := range doc.Diags {
		if d.Severity == "warning" {
			w++
		}
	}
	if w != warns {
		t.Fatalf("%d diagnostics marked warning, want %d", w, warns)
	}
}
