package reconcile

import (
	"fmt"
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
	d := udiff.Unified(from, to, string(fc.Old), string(fc.New))
	if fc.Action == Delete && len(fc.Old) == 0 {
		d = fmt.Sprintf("--- %s\n+++ %s\n", from, to)
	}
	return d
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
