package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// Whatever an event carries, its log line and its webhook payload stay
// under 64 KiB, and what was left out is said.
func TestEventBounded(t *testing.T) {
	var diff strings.Builder
	diff.WriteString("--- a/f\n+++ /dev/null\n@@ -1,200000 +0,0 @@\n")
	for i := range 200_000 {
		fmt.Fprintf(&diff, "-line %d %s\n", i, strings.Repeat("y", i%500))
	}
	e := Event{Kind: Tamper, File: "/etc/falco/rules.d/big.yaml", Diff: diff.String(),
		Message: strings.Repeat("m", 1<<20), Old: strings.Repeat("o", 1<<20), New: strings.Repeat("n", 1<<20),
		Fields: map[string]string{"diagnostics": strings.Repeat("d", 1<<20)}}

	var logs bytes.Buffer
	a := New(Config{}, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
	a.Emit(context.Background(), e)
	if n := logs.Len(); n > 64<<10 || n == 0 {
		t.Errorf("log line of %d bytes", n)
	}
	b, err := json.Marshal(payloadOf(bound(e), Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64<<10 {
		t.Errorf("webhook payload of %d bytes", len(b))
	}
	for _, want := range []string{"… 199903 more lines", "more bytes)"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log line does not say %q", want)
		}
	}
}

// A capped diff keeps the lines the file holds now before the ones it lost.
func TestCapDiffKeepsAddedLines(t *testing.T) {
	var d strings.Builder
	d.WriteString("--- a/f\n+++ b/f\n@@ -1,500 +1,1 @@\n")
	for i := range 500 {
		fmt.Fprintf(&d, "-old %d\n", i)
	}
	d.WriteString("+the new line\n")
	got := CapDiff(d.String())
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) > MaxDiffLines+1 {
		t.Errorf("%d lines", len(lines))
	}
	if !strings.HasSuffix(got, "… 404 more lines\n+the new line\n") || !strings.HasPrefix(got, "--- a/f\n+++ b/f\n@@ -1,500 +1,1 @@\n-old 0\n") {
		t.Fatalf("got:\n%s", got)
	}
	if small := "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+y\n"; CapDiff(small) != small {
		t.Fatalf("a small diff changed: %q", CapDiff(small))
	}
}

func TestCapTextRuneBoundary(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	got := CapText(s, 5)
	if !utf8.ValidString(got) || !strings.HasPrefix(got, "éé… (16 more bytes)") {
		t.Fatalf("%q", got)
	}
}
