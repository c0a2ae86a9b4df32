package policy

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// The falco_settings block, as golden cases like TestCases: a valid block
// for a node whose Falco has append_output, every kind of mistake, and
// append_output on a Falco before 0.39.0.
func TestSettingsCases(t *testing.T) {
	old := UnknownNode(nil)
	old.FalcoVersion = "0.32.1"
	for _, c := range []struct {
		name string
		node Node
	}{
		{"settings", Node{Hostname: "web-1", OS: "debian", FalcoVersion: "0.44.1"}},
		{"settings-errors", UnknownNode(nil)},
		{"settings-old", old},
		{"settings-typo", UnknownNode(nil)},
	} {
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

// The points the golden files hold, spelled out: an unknown setting gets a
// suggestion, a wrong type and a wrong priority are errors at their
// value, a field typo in append_output is caught against the catalogue,
// and append_output on Falco 0.32.1 is an error naming the version.
func TestSettingsErrors(t *testing.T) {
	p, diags := Load(filepath.Join("testdata", "settings-errors"))
	_, more := p.Evaluate(UnknownNode(nil))
	all := compact(append(diags, more...))
	for _, want := range []string{
		`Unknown priority "warnnig"`,
		`Did you mean "WARNING"?`,
		"Unknown Falco field %user.uidd",
		"Empty append_output token",
		`Duplicate append_output token "user_id=%user.uidd"`,
		"Control character in output text",
		"Incorrect attribute value type",
		"Duplicate falco_settings block",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the diagnostics:\n%s", want, all)
		}
	}
	if _, diags := Load(filepath.Join("testdata", "settings-typo")); !strings.Contains(compact(diags), `Did you mean "json_output"?`) {
		t.Errorf("json_ouput: %s", compact(diags))
	}
	p, _ = Load(filepath.Join("testdata", "settings-old"))
	old := UnknownNode(nil)
	old.FalcoVersion = "0.32.1"
	_, diags = p.Evaluate(old)
	if got := compact(diags); !strings.Contains(got, "Falco 0.32.1 has no append_output") || !strings.Contains(got, "settings-old/policy.hcl:3,3") {
		t.Errorf("append_output on 0.32.1: %s", got)
	}
	// The same block is fine where the version is not known (validate in
	// CI): the node's own pass decides.
	if _, diags = p.Evaluate(UnknownNode(nil)); diags.HasErrors() {
		t.Errorf("append_output with no version known: %s", compact(diags))
	}
}
