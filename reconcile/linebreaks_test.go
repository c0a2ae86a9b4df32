package reconcile

import (
	"strings"
	"testing"
)

// A carriage return with no line feed after it is refused wherever it is,
// with its line; CRLF line ends are not.
func TestLoneCarriageReturnRefused(t *testing.T) {
	for text, line := range map[string]string{
		"\r- rule: x\n":                  "line 1:",
		"- rule: x\n  desc: y\r":         "line 2:",
		"a: 1\r\nb: 2\r\nc: 3\r\nd: 4\r": "line 4:",
		"a: 1\r\nb: 2\rc: 3\r\n":         "line 2:",
	} {
		_, _, err := asFalcoReads([]byte(text))
		if err == nil || !strings.HasPrefix(err.Error(), line) || !strings.Contains(err.Error(), "carriage return") {
			t.Errorf("%q: %v, want a refusal at %s", text, err, line)
		}
	}
	if _, swapped, err := asFalcoReads([]byte("a: 1\r\nb: 2\r\n")); err != nil || swapped != nil {
		t.Fatalf("CRLF: %v, %v", swapped, err)
	}
}

// NEL, LS and PS are read as the text they are to Falco, in every value;
// a file that also holds the character rulekeeper stands in for one is
// refused with its line.
func TestTextBreaksReadAsText(t *testing.T) {
	var got map[string]string
	if err := unmarshal([]byte("a: x\u2028y\nb: \"p\u2029q\"\nc: r\u0085s\n"), &got); err != nil {
		t.Fatal(err)
	}
	if got["a"] != "x\u2028y" || got["b"] != "p\u2029q" || got["c"] != "r\u0085s" {
		t.Fatalf("read %q", got)
	}
	got = map[string]string{"kept": "1"}
	if err := unmarshal([]byte("# only a comment \u2028\n"), &got); err != nil || len(got) != 1 {
		t.Fatalf("an empty document: %v, %v", got, err)
	}
	if err := unmarshal([]byte("a: x\u2028y\n  b: : z\n"), &got); err == nil {
		t.Fatal("invalid YAML with a stand-in swapped: want the parse error")
	}
	_, _, err := asFalcoReads([]byte("a: 1\nb: \ue028\nc: \u2028\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "line 2:") {
		t.Fatalf("the stand-in and its character both in the file: %v", err)
	}
}
