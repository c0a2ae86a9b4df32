package reconcile

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
)

// unified diffs only the lines around the change; what it prints must be a
// diff of the whole files: applied to the old file it gives the new one,
// with the line numbers of the whole files, and it changes as few lines as
// a diff of the whole files does (where lines repeat, the two may pick
// different ones). Random files of short, often equal lines (so common
// heads and tails end mid-line and repeat), random edits at the start, the
// middle and the end, with and without a final newline.
func TestUnifiedIsTheWholeFileDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "ab", "ba", "- rule: x", "  output: y", ""}
	file := func(n int) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = words[r.IntN(len(words))]
		}
		return l
	}
	join := func(l []string, eol bool) []byte {
		s := strings.Join(l, "\n")
		if eol && len(l) > 0 {
			s += "\n"
		}
		return []byte(s)
	}
	for i := range 3000 {
		a := file(r.IntN(30))
		b := append([]string(nil), a...)
		for range 1 + r.IntN(3) {
			at := r.IntN(len(b) + 1)
			switch r.IntN(3) {
			case 0: // insert
				b = append(b[:at], append([]string{words[r.IntN(len(words))]}, b[at:]...)...)
			case 1: // delete
				if at < len(b) {
					b = append(b[:at], b[at+1:]...)
				}
			default: // change a line in place
				if at < len(b) {
					b[at] += words[r.IntN(len(words))]
				}
			}
		}
		ab, bb := join(a, r.IntN(4) > 0), join(b, r.IntN(4) > 0)
		got := unified("a/f", "b/f", ab, bb)
		want := udiff.Unified("a/f", "b/f", string(ab), string(bb))
		applied, err := applyUnified(string(ab), got)
		if err != nil || applied != string(bb) || changedLines(got) != changedLines(want) {
			t.Fatalf("case %d: %v\n%q\n->\n%q\ngot:\n%s\nwant:\n%s", i, err, ab, bb, got, want)
		}
	}
}

// A file deleted while empty still shows its header; a change without a
// line says none in the summary.
func TestDiffAndSummaryEdges(t *testing.T) {
	fc := &FileChange{Path: "/etc/falco/rules.d/x.yaml", Action: Delete}
	if got := fc.Diff(); got != "--- a/etc/falco/rules.d/x.yaml\n+++ /dev/null\n" {
		t.Fatalf("empty deleted file: %q", got)
	}
	fc = &FileChange{Path: "/etc/falco/x.yaml", Action: Delete, Old: []byte("a\n")}
	if got := fc.Diff(); !strings.Contains(got, "-a\n") {
		t.Fatalf("deleted file: %q", got)
	}
	p := &Plan{Files: []*FileChange{{Path: "/f", Action: Update, Changes: []Change{
		{Rule: "R", Field: "output", Reason: ReasonPolicy},
		{Rule: "R", Field: "priority", Line: 7, Reason: ReasonPolicy},
	}}}}
	want := fmt.Sprintf("~ /f (update)\n    rule \"R\" output (%s)\n    rule \"R\" priority at line 7 (%s)\n", ReasonPolicy, ReasonPolicy)
	if got := p.Summary(); got != want {
		t.Fatalf("summary:\n%s\nwant:\n%s", got, want)
	}
}

// applyUnified applies a unified diff to text, checking every context and
// removed line against the text at the line numbers the hunks give.
func applyUnified(text, diff string) (string, error) {
	if diff == "" {
		return text, nil
	}
	old := strings.SplitAfter(text, "\n")
	if old[len(old)-1] == "" {
		old = old[:len(old)-1]
	}
	var out []string
	next := 0 // the next line of old not yet copied
	lines := strings.SplitAfter(diff, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "@@ -") {
			continue
		}
		var start int
		if _, err := fmt.Sscanf(l, "@@ -%d", &start); err != nil {
			return "", err
		}
		if start > 0 {
			start-- // 1-based; 0 for an empty old side
		}
		if strings.HasPrefix(l, fmt.Sprintf("@@ -%d,0 ", start+1)) || strings.HasPrefix(l, "@@ -0,0 ") {
			start = max(start, 0)
			if !strings.HasPrefix(l, "@@ -0,0 ") {
				start++ // a hunk of no old lines is numbered by the line before it
			}
		}
		if start < next {
			return "", fmt.Errorf("hunk %q overlaps", l)
		}
		out = append(out, old[next:start]...)
		next = start
		prev := byte(0)
		for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "@@") {
			i++
			h := lines[i]
			if h == "" {
				continue
			}
			body := h[1:]
			if h == "\\ No newline at end of file\n" {
				// It speaks of the line before it: of the new text unless that was a removed line.
				if n := len(out) - 1; n >= 0 && prev != '-' {
					out[n] = strings.TrimSuffix(out[n], "\n")
				}
				continue
			}
			prev = h[0]
			switch h[0] {
			case ' ', '-':
				if next >= len(old) || strings.TrimSuffix(old[next], "\n") != strings.TrimSuffix(body, "\n") {
					return "", fmt.Errorf("line %d is not %q", next+1, body)
				}
				if h[0] == ' ' {
					out = append(out, old[next])
				}
				next++
			case '+':
				out = append(out, body)
			}
		}
	}
	out = append(out, old[next:]...)
	return strings.Join(out, ""), nil
}

func changedLines(diff string) int {
	n := 0
	for _, l := range strings.Split(diff, "\n") {
		if (strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+")) && !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "+++") {
			n++
		}
	}
	return n
}
