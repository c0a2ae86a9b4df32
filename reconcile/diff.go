package reconcile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

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
	d := unified(from, to, string(fc.Old), string(fc.New))
	if fc.Action == Delete && len(fc.Old) == 0 {
		d = fmt.Sprintf("--- %s\n+++ %s\n", from, to)
	}
	return d
}

// unified is udiff.Unified over only the lines that differ and their
// context: a splice changes a few lines of a 3,000-line file, and a line diff
// of the whole file would cost more than the rest of the pass.
func unified(from, to, a, b string) string {
	al, bl := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	pre := 0
	for pre < len(al) && pre < len(bl) && al[pre] == bl[pre] {
		pre++
	}
	suf := 0
	for suf < len(al)-pre && suf < len(bl)-pre && al[len(al)-1-suf] == bl[len(bl)-1-suf] {
		suf++
	}
	const context = 3 // udiff's
	start := max(pre-context, 0)
	endA, endB := min(len(al)-suf+context, len(al)), min(len(bl)-suf+context, len(bl))
	d := udiff.Unified(from, to, strings.Join(al[start:endA], ""), strings.Join(bl[start:endB], ""))
	if start == 0 {
		return d
	}
	return hunkHeader.ReplaceAllStringFunc(d, func(h string) string {
		m := hunkHeader.FindStringSubmatch(h)
		return fmt.Sprintf("@@ -%s%s +%s%s @@", shift(m[1], start), m[2], shift(m[3], start), m[4])
	})
}

var hunkHeader = regexp.MustCompile(`(?m)^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@`)

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
			fmt.Fprintf(&b, "    rule %q %s%s (%s)\n", c.Rule, c.Field, at, c.Reason)
		}
	}
	return b.String()
}
