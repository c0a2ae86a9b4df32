package daemon

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/agent/alert"
)

func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// The diff is the one GNU diff -u makes of the whole files, hunk headers
// included, though only the region that changed is diffed. (udiff alone
// numbers the new side of a hunk wrongly after one that joins two edits.)
func TestFileDiffAsGNUDiff(t *testing.T) {
	t.Parallel()
	base := numbered(300)
	for _, tc := range []struct {
		name  string
		edits []string // old, new, old, new ...
	}{
		{"first line", []string{"line 1\n", "line one\n"}},
		{"middle", []string{"line 150\n", "line 150 edited\n"}},
		{"last line", []string{"line 300\n", "line 300 edited\n"}},
		{"inserted", []string{"line 77\n", "line 77\nnew line\n"}},
		{"deleted", []string{"line 200\n", ""}},
		{"two near", []string{"line 10\nline 11\nline 12\n", "line 10\nx\nline 12\n"}},
		{"two far", []string{"line 20\n", "line 20 a\n", "line 250\n", "line 250 b\n"}},
		{"two joined in a hunk, then one far", []string{"line 10\n", "line 10\nnew\n", "line 14\n", "line 14 b\n", "line 200\n", "line 200 c\n"}},
		{"last newline dropped", []string{"line 300\n", "line 300"}},
		{"all removed", []string{base, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := base
			for i := 0; i < len(tc.edits); i += 2 {
				after = strings.Replace(after, tc.edits[i], tc.edits[i+1], 1)
			}
			want := alert.CapDiff(gnuDiff(t, base, after))
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

// gnuDiff is diff -u of two texts, labelled a/f and b/f.
func gnuDiff(t *testing.T, before, after string) string {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for p, text := range map[string]string{a: before, b: after} {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("diff", "-u", "--label", "a/f", "--label", "b/f", a, b).Output()
	// 1: the files differ; 0: they do not; anything else: no answer.
	if ee := (*exec.ExitError)(nil); err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		t.Fatalf("diff -u (GNU diffutils, the Debian package diffutils): %v", err)
	}
	return string(out)
}

// A one-line edit of a 20 MB file costs what the line does: a small diff
// with the right line number, and next to no memory.
func TestFileDiffLargeFileOneLine(t *testing.T) {
	// Not in parallel: the allocations are the whole program's.
	numberedFile := []byte(numbered(1_500_000))
	// An empty line after the edit: the context stops there too.
	withBlank := []byte(strings.Replace(string(numberedFile), "line 750001\n", "\n", 1))
	for _, tc := range []struct {
		name    string
		before  []byte
		context string // the lines after the edited one
	}{
		{"numbered lines", numberedFile, " line 750001\n line 750002\n line 750003\n"},
		{"an empty line after the edit", withBlank, " \n line 750002\n line 750003\n"},
	} {
		after := []byte(strings.Replace(string(tc.before), "line 750000\n", "line 750000 edited\n", 1))
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		d := fileDiff("/etc/falco/rules.d/big.yaml", tc.before, after)
		runtime.ReadMemStats(&m1)
		if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s: the diff of a one-line edit of a %d MB file allocated %d bytes", tc.name, len(tc.before)>>20, alloc)
		}
		want := "--- a/etc/falco/rules.d/big.yaml\n+++ b/etc/falco/rules.d/big.yaml\n@@ -749997,7 +749997,7 @@\n line 749997\n line 749998\n line 749999\n-line 750000\n+line 750000 edited\n" + tc.context
		if d != want {
			t.Errorf("%s: got:\n%.2000s\nwant:\n%s", tc.name, d, want)
		}
	}
}

// Every diff, whatever the texts (lines that repeat, a file that is the
// other's end, a last line without its line break), turns the old text
// into the new one when applied, at the line numbers its hunks give.
// (Where lines repeat, a diff of the region and one of the whole files
// may pair the lines differently: both are right.)
func TestFileDiffApplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, before, after string }{
		{"a line added before the whole file", "x\n", "y\nx\n"},
		{"lines added that repeat the lines around", "p\nx\n", "p\nq\np\nx\n"},
		{"lines removed that repeat the lines around", "p\nq\np\nx\n", "p\nx\n"},
		{"the last line break dropped", "a\nb\n", "a\nb"},
		{"a last line break added", "a\nb", "a\nb\n"},
		{"an edit before a last line without its line break", "a\nb\nc", "x\nb\nc"},
	} {
		d := fileDiff("/f", []byte(tc.before), []byte(tc.after))
		if got, err := applyDiff(tc.before, d); err != nil || got != tc.after {
			t.Errorf("%s: the diff applied gives %q (%v), want %q:\n%s", tc.name, got, err, tc.after, d)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "c", "", "a b"} // few: lines repeat
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(words[r.IntN(len(words))] + "\n")
		}
		return b.String()
	}
	for i := range 5000 {
		before := text(r.IntN(12))
		if r.IntN(5) == 0 {
			before = strings.TrimSuffix(before, "\n")
		}
		after := before
		for range 1 + r.IntN(3) {
			ls := strings.SplitAfter(after, "\n")
			k := r.IntN(len(ls))
			switch r.IntN(3) {
			case 0:
				ls[k] = text(1 + r.IntN(3)) // replaced
			case 1:
				ls[k] = "" // removed
			case 2:
				ls[k] = text(1+r.IntN(2)) + ls[k] // added before
			}
			after = strings.Join(ls, "")
		}
		if r.IntN(5) == 0 {
			after = strings.TrimSuffix(after, "\n")
		}
		d := fileDiff("/f", []byte(before), []byte(after))
		if before == after {
			if d != "" {
				t.Fatalf("case %d: the same texts give a diff:\n%s", i, d)
			}
			continue
		}
		if got, err := applyDiff(before, d); err != nil || got != after {
			t.Fatalf("case %d: %q to %q: the diff applied gives %q (%v):\n%s", i, before, after, got, err, d)
		}
	}
}

// Empty files: the same twice is no diff; one that came or went is the
// headers alone.
func TestFileDiffEmptyFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		before, after []byte
		want          string
	}{
		{"empty, still empty", []byte{}, []byte{}, ""},
		{"missing, still missing", nil, nil, ""},
		{"an empty file came", nil, []byte{}, "--- /dev/null\n+++ b/f\n"},
		{"an empty file went", []byte{}, nil, "--- a/f\n+++ /dev/null\n"},
	} {
		if got := fileDiff("/f", tc.before, tc.after); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A changed region of maxDiffed bytes, its three lines of context on each
// side counted, is still diffed line by line (its context line kept); two
// bytes more and it is shown whole (the context line removed and added).
func TestFileDiffRegionLimit(t *testing.T) {
	t.Parallel()
	const tail = "1\n2\n3\n4\n" // three lines of context and one past them
	for _, tc := range []struct {
		size  int // bytes of the changed region and its context, both sides
		first string
	}{
		{maxDiffed, " k"},
		{maxDiffed + 2, "-k"},
	} {
		long := tc.size/2 - len("k\n\n1\n2\n3\n")
		d := fileDiff("/f", []byte("k\n"+strings.Repeat("a", long)+"\n"+tail), []byte("k\n"+strings.Repeat("b", long)+"\n"+tail))
		if l := strings.Split(d, "\n"); len(l) < 4 || l[2] != "@@ -1,5 +1,5 @@" || l[3] != tc.first {
			t.Errorf("a region of %d bytes: %.200q, want the hunk @@ -1,5 +1,5 @@ to begin with %q", tc.size, d, tc.first)
		}
	}
}

// applyDiff applies a unified diff of one file to text, checking every
// hunk's line numbers and every line it keeps or removes.
func applyDiff(text, diff string) (string, error) {
	old := strings.SplitAfter(text, "\n")
	if old[len(old)-1] == "" {
		old = old[:len(old)-1]
	}
	var out []string
	next := 0 // index in old of the next line not yet copied
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") {
			continue
		}
		if !strings.HasPrefix(l, "@@ ") {
			return "", fmt.Errorf("line %d: %q where a hunk should begin", i+1, l)
		}
		oldStart, oldN, newStart, newN, err := hunkHeader(l)
		if err != nil {
			return "", err
		}
		from := oldStart - 1
		if oldN == 0 {
			from = oldStart // an insertion after line oldStart
		}
		if from < next || from > len(old) {
			return "", fmt.Errorf("hunk %q starts at old line %d, after line %d was used", l, from+1, next)
		}
		out = append(out, old[next:from]...)
		next = from
		if want := newStart - 1; newN == 0 && len(out) != newStart || newN > 0 && len(out) != want {
			return "", fmt.Errorf("hunk %q: the new text is at line %d", l, len(out)+1)
		}
		seenOld, seenNew := 0, 0
		for i+1 < len(lines) && len(lines[i+1]) > 0 && strings.ContainsRune(" -+", rune(lines[i+1][0])) {
			i++
			sign, body := lines[i][0], lines[i][1:]+"\n"
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\\ No newline") {
				body = lines[i][1:] // the file's last line, without a line break
				i++
			}
			if sign != '+' {
				if next >= len(old) || old[next] != body {
					return "", fmt.Errorf("hunk %q: old line %d is %q, the diff says %q", l, next+1, oldLine(old, next), body)
				}
				next++
				seenOld++
			}
			if sign != '-' {
				out = append(out, body)
				seenNew++
			}
		}
		if seenOld != oldN || seenNew != newN {
			return "", fmt.Errorf("hunk %q holds %d old and %d new lines", l, seenOld, seenNew)
		}
	}
	return strings.Join(append(out, old[next:]...), ""), nil
}

func hunkHeader(l string) (oldStart, oldN, newStart, newN int, err error) {
	var o, n string
	if _, err = fmt.Sscanf(l, "@@ -%s +%s @@", &o, &n); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("hunk header %q: %w", l, err)
	}
	parse := func(s string) (start, count int, err error) {
		count = 1
		a, b, two := strings.Cut(s, ",")
		if start, err = strconv.Atoi(a); err == nil && two {
			count, err = strconv.Atoi(b)
		}
		return start, count, err
	}
	if oldStart, oldN, err = parse(o); err == nil {
		newStart, newN, err = parse(n)
	}
	return oldStart, oldN, newStart, newN, err
}

func oldLine(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(past the end)"
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
		// Few lines, too many bytes: every line shown, and nothing more.
		{"long lines", strings.Repeat(strings.Repeat("a", 100_000)+"\n", 3), strings.Repeat("b", 100_000) + "\n", "@@ -3,6 +3,4 @@", 6, 4, 0, 0},
		{"the last line without its line break", block("a", 40000) + "end", "x\n", "@@ -3,40004 +3,4 @@", room - 4, 4, 40004 - (room - 4), 0},
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
	// A large file removed: its lines, then none.
	d := fileDiff("/f", []byte(block("a", 40000)), nil)
	if l := strings.Split(d, "\n"); len(l) < 3 || l[1] != "+++ /dev/null" || l[2] != "@@ -1,40000 +0,0 @@" || !strings.Contains(d, "-a 1\n") {
		t.Errorf("a large file removed:\n%.300s", d)
	}
}
