package daemon

import (
	"bytes"
	"fmt"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/rulekeeper/rulekeeper/agent/alert"
)

// maxDiffed bounds the bytes of the changed region that are diffed line by
// line (the diff's memory grows with them); a larger region is shown as its
// old lines removed and its new lines added.
const maxDiffed = 256 << 10

// fileDiff is the unified diff between two versions of a file (nil: the file
// is missing), bounded as alerts are (alert.CapDiff); "" when they are the
// same. The lines both versions share at their start and end are set aside
// first, so a one-line edit of a large file costs what the line does.
func fileDiff(path string, before, after []byte) string {
	if (before == nil) == (after == nil) && bytes.Equal(before, after) {
		return ""
	}
	from, to := "a"+path, "b"+path
	if before == nil {
		from = "/dev/null"
	}
	if after == nil {
		to = "/dev/null"
	}
	head := fmt.Sprintf("--- %s\n+++ %s\n", from, to)
	if len(before) == 0 && len(after) == 0 {
		return head // an empty file came or went
	}
	start, endA, endB := changedRegion(before, after)
	a, b := before[start:endA], after[start:endB]
	line := bytes.Count(before[:start], []byte("\n")) // lines before the region
	var d string
	if len(a)+len(b) <= maxDiffed {
		d = renumber(udiff.Unified(from, to, string(a), string(b)), line)
	} else {
		d = head + wholeHunk(a, b, line)
	}
	if d == "" {
		return ""
	}
	return alert.CapDiff(strings.TrimRight(d, "\n") + "\n")
}

// changedRegion finds the region where two texts differ, in whole lines,
// with up to udiff.DefaultContextLines lines around it: a[start:endA] and
// b[start:endB].
func changedRegion(a, b []byte) (start, endA, endB int) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	start = bytes.LastIndexByte(a[:i], '\n') + 1 // the start of the line where they part
	j := 0
	for j < len(a)-start && j < len(b)-start && a[len(a)-1-j] == b[len(b)-1-j] {
		j++
	}
	// The shared end begins after a line's end.
	if k := bytes.IndexByte(a[len(a)-j:], '\n'); k >= 0 {
		j -= k + 1
	} else {
		j = 0
	}
	endA, endB = len(a)-j, len(b)-j
	for n := 0; n < udiff.DefaultContextLines && start > 0; n++ {
		start = bytes.LastIndexByte(a[:start-1], '\n') + 1
	}
	for n := 0; n < udiff.DefaultContextLines && endA < len(a); n++ {
		k := bytes.IndexByte(a[endA:], '\n')
		if k < 0 {
			k = len(a) - endA - 1
		}
		endA += k + 1
		endB += k + 1
	}
	return start, endA, endB
}

// renumber writes the hunk headers of a diff of a region for the whole
// file, as GNU diff does: the old side moves down by the lines before the
// region, and the new side's start is counted from the old one and the
// hunks before it. (udiff's own new starts fall short after a hunk that
// joins two edits: golang/go#81453.)
func renumber(d string, by int) string {
	var out strings.Builder
	offset := 0 // new lines less old ones in the hunks so far
	rest := d
	for rest != "" {
		l, tail, _ := strings.Cut(rest, "\n")
		rest = tail
		var oldStart int
		if _, err := fmt.Sscanf(l, "@@ -%d", &oldStart); err != nil {
			out.WriteString(l + "\n") // the file names
			continue
		}
		body, next, more := strings.Cut(rest, "\n@@ ")
		rest = ""
		if more {
			body, rest = body+"\n", "@@ "+next
		}
		oldN, newN := 0, 0
		for bl := range strings.Lines(body) {
			switch bl[0] {
			case ' ':
				oldN++
				newN++
			case '-':
				oldN++
			case '+':
				newN++
			}
		}
		first := oldStart + by // the hunk's first old line
		if oldN == 0 {
			first++ // an empty side names the line before it
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(first, oldN), hunkRange(first+offset, newN))
		out.WriteString(body)
		offset += newN - oldN
	}
	return out.String()
}

// hunkRange is one side of a hunk header: its first line and count, the
// count left out when it is 1, and the line before it when it is 0.
func hunkRange(first, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", first-1)
	case 1:
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d,%d", first, n)
}

// wholeHunk shows a region too large to diff as its old lines removed and
// its new lines added, writing no more lines than an alert keeps.
func wholeHunk(a, b []byte, line int) string {
	na, nb := lines(a), lines(b)
	var out strings.Builder
	fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(line+1, na), hunkRange(line+1, nb))
	// Room for the headers and the counts; the new lines get at least half.
	room := alert.MaxDiffLines - 6
	roomB := min(nb, max(room/2, room-na))
	for _, side := range []struct {
		sign string
		text []byte
		n    int
		room int
	}{{"-", a, na, room - roomB}, {"+", b, nb, roomB}} {
		rest := side.text
		for i := 0; i < side.room && len(rest) > 0; i++ {
			l, tail, _ := bytes.Cut(rest, []byte("\n"))
			out.WriteString(side.sign + alert.CapText(string(l), alert.MaxLineLen) + "\n")
			rest = tail
		}
		if more := side.n - side.room; more > 0 {
			fmt.Fprintf(&out, "… %d more lines\n", more)
		}
	}
	return out.String()
}

func lines(b []byte) int {
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}
