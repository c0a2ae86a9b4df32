package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the view as one indented JSON object.
func (v View) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

// WriteText writes the view as the table `rulekeeper fleet` prints: the
// commits, newest first, then the nodes with something to say.
func (v View) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "Job %q on %s at %s: %d nodes\n\n", v.Job, v.Prometheus, v.At.Format(time.RFC3339), len(v.Nodes))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMIT\tCOMMITTED\tNODES\t")
	for _, c := range v.Commits {
		when, mark := "-", ""
		if !c.Time.IsZero() {
			when = c.Time.Format(time.RFC3339)
		}
		if c.Commit == v.Newest {
			mark = "newest"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", short(c.Commit), when, c.Nodes, mark)
	}
	if len(v.Commits) == 0 {
		fmt.Fprintln(tw, "-\t-\t0\tno node reports a commit")
	}
	tw.Flush()

	fine := 0
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	header := false
	for _, n := range v.Nodes {
		if len(n.Problems) == 0 {
			fine++
			continue
		}
		if !header {
			fmt.Fprintln(b)
			fmt.Fprintln(tw, "NODE\tWAVE\tCOMMIT\tSTATE")
			header = true
		}
		wave := "-"
		if n.Wave != nil {
			wave = strconv.Itoa(*n.Wave)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Instance, wave, short(n.Commit), strings.Join(n.Problems, ", "))
	}
	tw.Flush()
	fmt.Fprintf(b, "\n%d of %d nodes on the newest commit, converged, nothing in the last hour.\n", fine, len(v.Nodes))
	if !v.Settled() {
		unsettled := 0
		for _, n := range v.Nodes {
			if !n.settled() {
				unsettled++
			}
		}
		fmt.Fprintf(b, "Not settled: %d of %d nodes are silent, behind or not converged.\n", unsettled, len(v.Nodes))
	}
	// tabwriter pads the last column of a row whose mark is empty.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

// short is a commit as people read it: its first 8 characters.
func short(commit string) string {
	if commit == "" {
		return "-"
	}
	return commit[:min(8, len(commit))]
}
