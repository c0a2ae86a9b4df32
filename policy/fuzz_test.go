package policy

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode loads and evaluates arbitrary bytes as a policy file: it must
// never panic, every diagnostic has a position in the file, and the text
// rendering of the diagnostics works. Seeds: every policy of testdata and
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.hcl")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "p.hcl"), src, 0o600); err != nil {
			t.Fatal(err)
		}
		p, diags := Load(dir)
		for _, n := range []Node{UnknownNode(nil), {Hostname: "web-1", OS: "debian", Labels: map[string]string{"env": "prod"}}} {
			_, more := p.Evaluate(n)
			all := append(diags, more...)
			for _, d := range all {
				if d.Subject == nil {
					t.Errorf("diagnostic without a position: %s: %s", d.Summary, d.Detail)
				}
			}
			if err := WriteDiagnostics(io.Discard, p.Files(), all, false, 80); err != nil {
				t.Fatal(err)
			}
		}
	})
}
