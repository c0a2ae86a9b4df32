package reconcile

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	udiff "github.com/aymanbagabas/go-udiff"
)

// Diff renders the plan as a unified diff of exactly the lines it changes.
func (p *Plan) Diff() string {
	var b strings.Builder
	for _, fc := range p.Files {
		b.WriteString(fc.Diff())
	}
	return b.String()
}

// Diff is the unified diff of one file.
func (fc *FileChange) Diff() string {
	from, to := "a"+fc.Path, "b"+fc.Path
	switch fc.Action {
	case Create:
		from = "/dev/null"
	case Delete:
		to = "/dev/null"
	}
	d := unified(from, to, fc.Old, fc.New)
	if fc.Action == Delete && len(fc.Old) == 0 {
		d = fmt.Sprintf("--- %s\n+++ %s\n", from, to)
	}
	return d
}

// unified is udiff.Unified over only the lines that differ and their
// context: a splice changes a few lines of a 3,000-line file, and a line diff
// of the whole file would cost more than the rest of the pass. The common
// head and tail are found on the bytes, so the file is neither copied nor
// split into lines.
func unified(from, to string, a, b []byte) string {
	pre := commonPrefix(a, b)
	pre = bytes.LastIndexByte(a[:pre], '\n') + 1 // back to a line start
	suf := 0
	for n := min(len(a), len(b)) - pre; suf < n && a[len(a)-1-suf] == b[len(b)-1-suf]; suf++ {
	}
	for suf > 0 && !(lineStart(a, len(a)-suf) && lineStart(b, len(b)-suf)) {
		suf--
	}
	const context = 3 // udiff's
	start := pre
	for k := 0; k < context && start > 0; k++ {
		start = bytes.LastIndexByte(a[:start-1], '\n') + 1
	}
	endA := len(a) - suf
	for k := 0; k < context && endA < len(a); k++ {
		if i := bytes.IndexByte(a[endA:], '\n'); i >= 0 {
			endA += i + 1
		} else {
			endA = len(a)
		}
	}
	endB := len(b) - (len(a) - endA) // the tail is the same bytes in both
	d := udiff.Unified(from, to, string(a[start:endA]), string(b[start:endB]))
	line := bytes.Count(a[:start], []byte("\n"))
	if line == 0 {
		return d
	}
	re := hunkHeader()
	return re.ReplaceAllStringFunc(d, func(h string) string {
		m := re.FindStringSubmatch(h)
		return fmt.Sprintf("@@ -%s%s +%s%s @@", shift(m[1], line), m[2], shift(m[3], line), m[4])
	})
}

// commonPrefix is the length of the bytes a and b start with, compared a
// block at a time.
func commonPrefix(a, b []byte) int {
	const block = 256
	n, i := min(len(a), len(b)), 0
	for i+block <= n && bytes.Equal(a[i:i+block], b[i:i+block]) {
		i += block
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

func lineStart(x []byte, i int) bool { return i == 0 || x[i-1] == '\n' }

var hunkHeader = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@`)
})

func shift(n string, by int) string {
	i, _ := strconv.Atoi(n)
	return strconv.Itoa(i + by)
}

// Summary is one line per change, Terraform style.
func (p *Plan) Summary() string {
	var b strings.Builder
	for _, fc := range p.Files {
		sign := map[Action]string{Create: "+", Update: "~", Delete: "-"}[fc.Action]
		fmt.Fprintf(&b, "%s %s (%s)\n", sign, fc.Path, fc.Action)
		for _, c := range fc.Changes {
			at := ""
			if c.Line > 0 {
				at = fmt.Sprintf(" at line %d", c.Line)
			}
			fmt.Fprintf(&b, "    %s %q %s%s (%s)\n", cmp.Or(c.Kind, "rule"), c.Rule, c.Field, at, c.Reason)
		}
	}
	return b.String()
}
