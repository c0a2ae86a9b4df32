package alert

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// An event's text is bounded, whatever produced it, so that one event is
// one readable log line and a webhook payload of at most about 64 KiB: a
// diff keeps MaxDiffLines lines of at most MaxLineLen bytes, every other
// text maxText bytes.
const (
	MaxDiffLines = 100
	MaxLineLen   = 256
	maxText      = 4 << 10
	maxName      = 1 << 10 // rule, file, commit
	maxFields    = 8
)

// bound cuts every text of the event to its limit.
func bound(e Event) Event {
	e.Message = CapText(e.Message, maxText)
	e.Old, e.New = CapText(e.Old, maxText), CapText(e.New, maxText)
	e.Rule, e.File, e.Commit = CapText(e.Rule, maxName), CapText(e.File, maxName), CapText(e.Commit, maxName)
	e.Diff = CapDiff(e.Diff)
	if len(e.Fields) > 0 {
		f := make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			if len(f) == maxFields {
				break
			}
			f[CapText(k, 64)] = CapText(v, maxText)
		}
		e.Fields = f
	}
	return e
}

// CapText cuts s to at most n bytes (at a character boundary) and says how
// much was left out.
func CapText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// CapDiff bounds a diff to about MaxDiffLines lines, each cut to MaxLineLen
// bytes. When it has more, the file headers, hunk headers and added lines
// are kept first (what the file says now), then removed and context lines
// in order while room is left; each run of lines left out is replaced by
// "… N more lines".
func CapDiff(d string) string {
	if d == "" {
		return d
	}
	lines := strings.SplitAfter(strings.TrimSuffix(d, "\n"), "\n")
	keep := make([]bool, len(lines))
	room := MaxDiffLines
	for pass := 0; pass < 2; pass++ {
		for i, l := range lines {
			first := strings.HasPrefix(l, "+") || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "@@")
			if !keep[i] && room > 0 && first == (pass == 0) {
				keep[i] = true
				room--
			}
		}
	}
	var b strings.Builder
	skipped := 0
	for i, l := range lines {
		if !keep[i] {
			skipped++
			continue
		}
		if skipped > 0 {
			fmt.Fprintf(&b, "… %d more lines\n", skipped)
			skipped = 0
		}
		b.WriteString(CapText(strings.TrimSuffix(l, "\n"), MaxLineLen))
		b.WriteByte('\n')
	}
	if skipped > 0 {
		fmt.Fprintf(&b, "… %d more lines\n", skipped)
	}
	return b.String()
}
