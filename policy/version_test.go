package policy

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// The grammar parseVersion implements by hand, as a regexp.
var semver = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func TestParseVersionMatchesTheGrammar(t *testing.T) {
	for _, s := range []string{
		"0.32.1", "0.41.0", "10.200.3000", "1.2.3-rc1", "1.2.3-rc.1-x", "1.2.3+build.5", "1.2.3-rc1+b-2",
		"", "1.2", "1.2.3.4", "v1.2.3", "1.2.3-", "1.2.3+", "1.2.3-rc_1", "1.2.3+a+b", "1..3", "a.b.c",
		"1.2.3 ", " 1.2.3", "1.2.-3", "1.2.3-+x", "٣.2.1", "99999999999999999999.0.0",
		// every edge of the suffix's characters, and the byte past each
		"1.2.3-0", "1.2.3-9", "1.2.3-a", "1.2.3-z", "1.2.3-A", "1.2.3-Z", "1.2.3+0.9-aAzZ",
		"1.2.3-/", "1.2.3-:", "1.2.3-`", "1.2.3-{", "1.2.3-@", "1.2.3-[", "1.2.3+/", "1.2.3+:",
	} {
		m := semver.FindStringSubmatch(s)
		want := m != nil
		var wantV version
		if want {
			for i := range wantV {
				n, err := strconv.Atoi(m[i+1])
				if err != nil {
					want = false
				}
				wantV[i] = n
			}
		}
		got, ok := parseVersion(s)
		if ok != want || (ok && got != wantV) {
			t.Errorf("parseVersion(%q) = %v, %v; the grammar says %v, %v", s, got, ok, wantV, want)
		}
	}
}

// Control characters are refused in an output text at each edge of their
// ranges, and the characters just past them are text.
func TestControlCharacterEdges(t *testing.T) {
	for _, tc := range []struct {
		esc     string
		refused bool
	}{
		{`\u001f`, true}, {`\u0020`, false}, {`\u007e`, false}, {`\u007f`, true},
		{`\u009f`, true}, {`\u00a0`, false}, {`\t`, false}, {`\n`, false},
	} {
		t.Run(tc.esc, func(t *testing.T) {
			dir := t.TempDir()
			src := "rule \"R\" {\n  output {\n    prefix = \"a" + tc.esc + "b\"\n  }\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			p, diags := Load(dir)
			_, more := p.Evaluate(UnknownNode(nil))
			diags = append(diags, more...)
			got := strings.Contains(diags.Error(), "Control character")
			if got != tc.refused {
				t.Fatalf("%s: refused %v, want %v: %v", tc.esc, got, tc.refused, diags)
			}
		})
	}
}

// startswith and endswith, as in Terraform: a string starts and ends with
// itself and with "", never with a longer string.
func TestStartsEndsWith(t *testing.T) {
	for _, tc := range []struct {
		f       function.Function
		s, p    string
		want    bool
		message string
	}{
		{startsWithFunc, "web", "web", true, "startswith itself"},
		{startsWithFunc, "web", "", true, "startswith empty"},
		{startsWithFunc, "we", "web", false, "startswith longer"},
		{startsWithFunc, "web-1", "web", true, "startswith prefix"},
		{startsWithFunc, "web-1", "eb", false, "startswith elsewhere"},
		{endsWithFunc, "web", "web", true, "endswith itself"},
		{endsWithFunc, "web", "", true, "endswith empty"},
		{endsWithFunc, "eb", "web", false, "endswith longer"},
		{endsWithFunc, "1-web", "web", true, "endswith suffix"},
		{endsWithFunc, "1-web", "1-we", false, "endswith elsewhere"},
	} {
		got, err := tc.f.Call([]cty.Value{cty.StringVal(tc.s), cty.StringVal(tc.p)})
		if err != nil {
			t.Fatalf("%s: %v", tc.message, err)
		}
		if got.True() != tc.want {
			t.Errorf("%s (%q, %q) = %v, want %v", tc.message, tc.s, tc.p, got.True(), tc.want)
		}
	}
}
