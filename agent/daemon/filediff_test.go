package daemon

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/rulekeeper/rulekeeper/agent/alert"
)

func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// Setting the shared lines aside changes nothing in the diff: it is the
// one udiff makes of the whole files, hunk headers included.
func TestFileDiffSameAsWhole(t *testing.T) {
	t.Parallel()
	base := numbered(300)
	for _, tc := range []struct{ name, old, new string }{
		{"first line", "line 1\n", "line one\n"},
		{"middle", "line 150\n", "line 150 edited\n"},
		{"last line", "line 300\n", "line 300 edited\n"},
		{"inserted", "line 77\n", "line 77\nnew line\n"},
		{"deleted", "line 200\n", ""},
		{"two near", "line 10\nline 11\nline 12\n", "line 10\nx\nline 12\n"},
		{"two far", "line 20\n", "line 20 a\n"},
		{"last newline dropped", "line 300\n", "line 300"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := strings.Replace(base, tc.old, tc.new, 1)
			if tc.name == "two far" {
				after = strings.Replace(after, "line 250\n", "line 250 b\n", 1)
			}
			want := alert.CapDiff(strings.TrimRight(udiff.Unified("a/f", "b/f", base, after), "\n") + "\n")
			if got := fileDiff("/f", []byte(base), []byte(after)); got != want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if d := fileDiff("/f", []byte(base), []byte(base)); d != "" {
		t.Fatalf("same content: %q", d)
	}
	if d := fileDiff("/f", nil, []byte{}); d != "--- /dev/null\n+++ b/f\n" {
		t.Fatalf("an empty file came: %q", d)
	}
}

// A one-line edit of a 20 MB file costs what the line does: a small diff
// with the right line number, and next to no memory.
func TestFileDiffLargeFileOneLine(t *testing.T) {
	// Not in parallel: the allocations are the whole program's.
	before := []byte(numbered(1_500_000))
	after := []byte(strings.Replace(string(before), "line 750000\n", "line 750000 edited\n", 1))
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	d := fileDiff("/etc/falco/rules.d/big.yaml", before, after)
	runtime.ReadMemStats(&m1)
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 1<<20 {
		t.Errorf("the diff of a one-line edit of a %d MB file allocated %d bytes", len(before)>>20, alloc)
	}
	want := "--- a/etc/falco/rules.d/big.yaml\n+++ b/etc/falco/rules.d/big.yaml\n@@ -749997,7 +749997,7 @@\n line 749997\n line 749998\n line 749999\n-line 750000\n+line 750000 edited\n line 750001\n line 750002\n line 750003\n"
	if d != want {
		t.Fatalf("got:\n%s\nwant:\n%s", d, want)
	}
}

// The 136 KB vendor file removed, or replaced by a line, gives a diff of
// at most MaxDiffLines lines of at most MaxLineLen bytes that says how
// many lines it leaves out and keeps the line the file holds now.
func TestFileDiffBounded(t *testing.T) {
	t.Parallel()
	vendor, err := os.ReadFile(examDir + "/node" + rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	long := []byte(strings.Repeat("x", 100_000) + "\n")
	huge := []byte(strings.Repeat(numbered(3000), 100)) // over maxDiffed: shown whole, not diffed
	for _, tc := range []struct {
		name          string
		before, after []byte
		keeps         string
	}{
		{"vendor removed", vendor, nil, "-# Copyright (C) 2022 The Falco Authors."},
		{"vendor replaced", vendor, []byte("- rule: [broken\n"), "+- rule: [broken"},
		{"huge replaced", huge, []byte("short\n"), "+short"},
		{"one long line", vendor, append(vendor[:len(vendor):len(vendor)], long...), "+xxxx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := fileDiff(rulesPath, tc.before, tc.after)
			lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
			if len(lines) > alert.MaxDiffLines+3 {
				t.Errorf("%d lines", len(lines))
			}
			for _, l := range lines {
				if len(l) > alert.MaxLineLen+40 {
					t.Errorf("a line of %d bytes", len(l))
				}
			}
			if tc.name != "one long line" && !strings.Contains(d, " more lines") {
				t.Errorf("does not say how many lines it leaves out:\n%s", d)
			}
			if tc.name == "one long line" && !strings.Contains(d, "more bytes)") {
				t.Errorf("does not say how much of the line it leaves out:\n%s", d)
			}
			if !strings.Contains(d, tc.keeps) {
				t.Errorf("does not keep %q:\n%s", tc.keeps, d)
			}
		})
	}
}

// A region too large to diff is shown as its old lines removed and its new
// lines added, from the line where it begins (three lines of context
// before): the new lines get at least half the room, and the room the old
// lines leave; each side says how many lines it leaves out.
func TestFileDiffWholeHunk(t *testing.T) {
	t.Parallel()
	block := func(prefix string, n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "%s %d\n", prefix, i)
		}
		return b.String()
	}
	head := block("keep", 5)
	room := alert.MaxDiffLines - 6
	for _, tc := range []struct {
		name           string
		old, new       string
		header         string
		minus, plus    int
		moreOld, moreN int // lines left out of each side; 0: none said
	}{
		{"both large", block("a", 20000), block("b", 20000), "@@ -3,20003 +3,20003 @@", room / 2, room - room/2, 20003 - room/2, 20003 - (room - room/2)},
		{"a line replaced by many", "x\n", block("b", 40000), "@@ -3,4 +3,40003 @@", 4, room - 4, 0, 40003 - (room - 4)},
	} {
		d := fileDiff("/f", []byte(head+tc.old), []byte(head+tc.new))
		lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
		if len(lines) < 3 || lines[0] != "--- a/f" || lines[1] != "+++ b/f" || lines[2] != tc.header {
			t.Errorf("%s: head of the diff:\n%.300s", tc.name, d)
			continue
		}
		minus, plus := 0, 0
		var more []string
		for _, l := range lines[3:] {
			switch {
			case strings.HasPrefix(l, "-"):
				minus++
			case strings.HasPrefix(l, "+"):
				plus++
			case strings.HasPrefix(l, "… "):
				more = append(more, l)
			}
		}
		var want []string
		for _, n := range []int{tc.moreOld, tc.moreN} {
			if n > 0 {
				want = append(want, fmt.Sprintf("… %d more lines", n))
			}
		}
		if minus != tc.minus || plus != tc.plus || strings.Join(more, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %d lines removed, %d added, %q; want %d, %d, %q", tc.name, minus, plus, more, tc.minus, tc.plus, want)
		}
		if lines[3] != "-keep 3" {
			t.Errorf("%s: the hunk does not begin with the context line keep 3: %q", tc.name, lines[3])
		}
	}
}
