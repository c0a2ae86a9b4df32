package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"go.yaml.in/yaml/v3"
)

func TestCatalogueChoice(t *testing.T) {
	for v, want := range map[string]string{
		"0.32.1":        "0.32.1",
		"0.40.0":        "0.32.1",
		"0.41.0":        "0.41.0",
		"0.44.1":        "0.41.0",
		"0.44.1-rc1":    "0.41.0",
		"0.20.0":        "0.32.1", // older than all: the oldest
		"":              "0.41.0", // unknown: the newest
		"not-a-version": "0.41.0",
	} {
		if got := Catalogue(v).Version; got != want {
			t.Errorf("Catalogue(%q) = %s, want %s", v, got, want)
		}
	}
	// The count `falco --list -N` printed for Falco 0.32.1.
	if n := len(Catalogue("0.32.1").Names()); n != 261 {
		t.Errorf("0.32.1 catalogue has %d fields, want 261", n)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		version, token string
		ok             bool
		suggestion     string
	}{
		{"0.32.1", "%user.uid", true, ""},
		{"0.32.1", "%user.uidd", false, "%user.uid"},
		{"0.32.1", "%usr.uid", false, "%user.uid"},
		{"0.32.1", "proc.aname[2]", true, ""},
		{"0.32.1", "%evt.arg.fd", true, ""},
		{"0.32.1", "%evt.rawarg.res", true, ""},
		{"0.32.1", "%span.arg.x", true, ""},
		{"0.32.1", "%k8s.pod.label.app", true, ""},
		{"0.32.1", "%container.info", true, ""},
		{"0.32.1", "%evt.arg", true, ""},
		{"0.32.1", "%evt.arg.", false, "%evt.arg"},
		{"0.32.1", "%fs.path.name", false, ""},
		{"0.32.1", "%zzzz.qqq", false, ""},
		{"0.44.1", "%fs.path.name", true, ""},
		{"0.44.1", "%container.image.repository", true, ""},
		{"0.44.1", "%container.label.maintainer", true, ""},
		{"0.44.1", "%span.arg.x", false, ""},
	} {
		ok, s := Catalogue(tc.version).Check(tc.token)
		if ok != tc.ok || s != tc.suggestion {
			t.Errorf("%s: Check(%q) = %v, %q; want %v, %q", tc.version, tc.token, ok, s, tc.ok, tc.suggestion)
		}
	}
}

func TestOutputTokens(t *testing.T) {
	got := outputTokens("a %proc.name. b %%s %proc.aname[2] 100% x=%evt.arg.fd,%fd.name")
	want := []outputToken{
		{"proc.name", 2, 12},
		{"proc.aname", 20, 34},
		{"evt.arg.fd", 42, 53},
		{"fd.name", 54, 62},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outputTokens = %+v\nwant %+v", got, want)
	}
}

// Real upstream outputs must validate: every `%field` of the rule files Falco
// ships is in that Falco's catalogue.
func TestUpstreamOutputsAreKnown(t *testing.T) {
	for file, version := range map[string]string{
		"falco_rules-0.32.1.yaml": "0.32.1",
		"falco_rules-5.1.0.yaml":  "0.44.1",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "falco-rules", file))
		if err != nil {
			t.Fatal(err)
		}
		var items []map[string]any
		if err := yaml.Unmarshal(data, &items); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		cat, outputs, tokens := Catalogue(version), 0, 0
		for _, it := range items {
			out, ok := it["output"].(string)
			if !ok {
				continue
			}
			outputs++
			for _, tok := range outputTokens(out) {
				tokens++
				if ok, s := cat.Check(tok.name); !ok {
					t.Errorf("%s, rule %q: %%%s not in catalogue %s (suggestion %q)", file, it["rule"], tok.name, cat.Source, s)
				}
			}
		}
		if outputs < 20 || tokens < 100 {
			t.Errorf("%s: only %d outputs and %d tokens read; the extraction is broken", file, outputs, tokens)
		}
	}
}

// known reads the catalogue's text instead of its table: both must agree.
func TestKnownAgreesWithTheTable(t *testing.T) {
	for _, c := range Catalogues() {
		table, names := c.table()
		byTable := func(name string) bool {
			if table[name] || slices.Contains(pseudoFields, name) {
				return true
			}
			for _, a := range argFields {
				if table[a] && len(name) > len(a)+1 && strings.HasPrefix(name, a+".") {
					return true
				}
			}
			return false
		}
		tokens := []string{"evt.arg.fd", "evt.arg.", "container.info", "user.uidd", "", "k8s.pod.label.app"}
		for _, n := range names {
			tokens = append(tokens, n, n+"x", "x"+n, n[:len(n)-1], n+".y")
		}
		for _, tok := range tokens {
			if got, want := c.known(tok), byTable(tok); got != want {
				t.Errorf("%s: known(%q) = %v, the table says %v", c.Source, tok, got, want)
			}
		}
	}
}

// The edges of the token grammar: a percent sign at the start or the end,
// `%%` first, an empty `[]`, and each end of the name characters' ranges
// with the byte just past it.
func TestOutputTokenEdges(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want []outputToken
	}{
		{"x%", nil},
		{"%%user.uid", nil},
		{"%evt.arg[]x", []outputToken{{"evt.arg", 0, 10}}},
		{"%az.AZ_09", []outputToken{{"az.AZ_09", 0, 9}}},
		{"%a`%z{%A@%Z[%0/%9:", []outputToken{{"a", 0, 2}, {"z", 3, 5}, {"A", 6, 8}, {"Z", 9, 11}, {"0", 12, 14}, {"9", 15, 17}}},
	} {
		if got := outputTokens(tc.s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("outputTokens(%q) = %+v\nwant %+v", tc.s, got, tc.want)
		}
	}
}

// A diagnostic on a file's first line, at its first byte, in a file with no
// line break at the end, carries that whole line as its snippet.
func TestSnippetAtFileEdges(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte(`bogus "x" {}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := Load(dir)
	if len(diags) == 0 || diags[0].Subject.Start.Byte != 0 {
		t.Fatalf("want a diagnostic at the first byte: %v", diags)
	}
	var js bytes.Buffer
	if err := WriteDiagnostics(&js, p.Files(), diags, true, 0); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Diagnostics []struct {
			Snippet *struct {
				Code                 string `json:"code"`
				HighlightStartOffset int    `json:"highlight_start_offset"`
			} `json:"snippet"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Diagnostics) == 0 || doc.Diagnostics[0].Snippet == nil || doc.Diagnostics[0].Snippet.Code != `bogus "x" {}` {
		t.Fatalf("snippet: %s", js.Bytes())
	}
}

// An empty range (a point) still has its line as the snippet, and so has
// a range that ends where the file does.
func TestSnippetOfAPoint(t *testing.T) {
	f := &hcl.File{Bytes: []byte("a\nbc\n")}
	r := hcl.Range{Filename: "p.hcl", Start: hcl.Pos{Line: 2, Column: 2, Byte: 3}, End: hcl.Pos{Line: 2, Column: 2, Byte: 3}}
	s := snippet(f, r)
	if s == nil || s.Code != "bc" || s.HighlightStartOffset != 1 || s.HighlightEndOffset != 1 {
		t.Fatalf("snippet = %+v", s)
	}
	// A range that ends at the file's last byte.
	f = &hcl.File{Bytes: []byte("a\nbc")}
	r = hcl.Range{Filename: "p.hcl", Start: hcl.Pos{Line: 2, Column: 1, Byte: 2}, End: hcl.Pos{Line: 2, Column: 3, Byte: 4}}
	if s := snippet(f, r); s == nil || s.Code != "bc" {
		t.Fatalf("snippet at the end = %+v", s)
	}
}

// A catalogue row's name is made of field characters only; anything else
// is not a row.
func TestFieldRow(t *testing.T) {
	for _, tc := range []struct {
		line, name string
		ok         bool
	}{
		{"`user.uid` | UINT32 | the uid", "user.uid", true},
		{"`evt.arg[0]` | CHARBUF | x", "", false},
		{"`a b` | x", "", false},
		{"`` | x", "", false},
		{"`user.uid` UINT32", "", false},
		{"user.uid | UINT32", "", false},
	} {
		if name, ok := fieldRow(tc.line); name != tc.name || ok != tc.ok {
			t.Errorf("fieldRow(%q) = %q, %v; want %q, %v", tc.line, name, ok, tc.name, tc.ok)
		}
	}
}

// Of candidates equally close to a typo, the first is suggested.
func TestDidYouMeanFirstOfEquals(t *testing.T) {
	if got := didYouMean("ab", []string{"aa", "bb"}, "%s"); got != "Did you mean aa? " {
		t.Fatalf("didYouMean = %q, want the first of the equally close candidates", got)
	}
	if got := didYouMean("zzzz", []string{"aa", "bb"}, "%s"); got != "" {
		t.Fatalf("didYouMean = %q for no close candidate", got)
	}
}
