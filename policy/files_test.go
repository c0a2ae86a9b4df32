package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A source over the rules file cap, or one that is no regular file, is one
// clear error at the source attribute; nothing of it is kept.
func TestFileSourceRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"over the cap", func(t *testing.T, path string) {
			if err := os.WriteFile(path, make([]byte, 4<<20+1), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is over the 4 MiB cap on a rules file"},
		{"a folder", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hcl := "file \"/etc/falco/rules.d/60-team.yaml\" {\n  source = \"team.yaml\"\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "p.hcl"), []byte(hcl), 0o644); err != nil {
				t.Fatal(err)
			}
			tc.make(t, filepath.Join(dir, "team.yaml"))
			p, diags := Load(dir)
			d, more := p.Evaluate(UnknownNode(nil))
			diags = append(diags, more...)
			if len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != 2 || !strings.Contains(diags[0].Detail, tc.want) {
				t.Fatalf("want one error at line 2 saying %q, got %v", tc.want, diags)
			}
			if len(d.Files) != 1 || d.Files[0].Content != nil || d.Files[0].SHA256 != "" {
				t.Fatalf("the refused source was kept: %+v", d.Files)
			}
		})
	}
}
