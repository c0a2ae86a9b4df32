package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// runStatus is `rulekeeper status`: what the state directory says.
func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rulekeeper status", flag.ContinueOnError)
	root := fs.String("root", "/", "treat this directory as the node's /")
	stateDir := fs.String("state-dir", reconcile.DefaultStateDir, "rulekeeper's state directory (under --root)")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, ok := parse(fs, args, stderr); !ok || len(pos) > 0 {
		if ok {
			fmt.Fprintln(stderr, "usage: rulekeeper status [--root DIR] [--state-dir DIR] [--json]")
		}
		return exitError
	}
	dir := *stateDir
	if *root != "" && *root != "/" {
		dir = filepath.Join(*root, *stateDir)
	}
	st, err := agent.ReadStatus(dir)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return exitError
	}
	rs, err := reconcile.LoadState(dir)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return exitError
	}
	if st == nil && len(rs.Files) == 0 && rs.Applied == nil {
		fmt.Fprintf(stderr, "Error: no rulekeeper state in %s: nothing was applied on this node yet (or give --state-dir / --root)\n", dir)
		return exitError
	}
	if *asJSON {
		writeJSON(stdout, map[string]any{"daemon": st, "managed": rs.Files, "applied": rs.Applied})
		return exitOK
	}
	printStatus(stdout, st, rs)
	return exitOK
}

func printStatus(w io.Writer, st *agent.Status, rs *reconcile.State) {
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Local().Format(time.RFC3339) + " (" + time.Since(t).Round(time.Second).String() + " ago)"
	}
	if st == nil {
		fmt.Fprintln(w, "Daemon:     has not run here (state from `rulekeeper apply`)")
	} else {
		fmt.Fprintln(w, "Source:     "+st.Source)
		commit := st.Commit
		if commit == "" {
			commit = "-"
		} else if !st.CommitTime.IsZero() {
			commit += ", committed " + st.CommitTime.Local().Format(time.RFC3339)
		}
		fmt.Fprintln(w, "Commit:     "+commit)
		fmt.Fprintln(w, "Converged:  "+stamp(st.ConvergedAt))
		fmt.Fprintln(w, "Drift mode: "+st.Mode)
		reload := st.ReloadMethod
		if reload == "" {
			reload = "none (Falco is not reloaded by rulekeeper)"
		}
		fmt.Fprintln(w, "Reload:     "+reload)
	}
	if st != nil && st.Rollout != nil {
		printRollout(w, st.Rollout)
	}
	if rs.Applied != nil {
		fmt.Fprintf(w, "Applied:    %s: %s\n", stamp(rs.Applied.Time), strings.Join(rs.Applied.Files, ", "))
	}
	fmt.Fprintln(w, "Managed:")
	if len(rs.Files) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	for _, f := range slices.Sorted(maps.Keys(rs.Files)) {
		fs := rs.Files[f]
		fmt.Fprintln(w, "  "+f)
		switch {
		case fs.Source != "":
			fmt.Fprintf(w, "    (written whole by rulekeeper from %s in the policy)\n", fs.Source)
		case fs.Owned:
			fmt.Fprintln(w, "    (written whole by rulekeeper)")
		}
		for _, v := range fs.Values {
			fmt.Fprintf(w, "    %s %q %s\n", cmp.Or(v.Kind, "rule"), v.Rule, v.Field)
		}
	}
	if st == nil {
		return
	}
	for _, x := range []struct {
		name string
		inc  *agent.Incident
	}{{"Last drift", st.LastDrift}, {"Last tamper", st.LastTamper}, {"Last error", st.LastError}, {"Refused", st.Refused}} {
		if x.inc == nil {
			continue
		}
		fmt.Fprintf(w, "%-11s %s: %s\n", x.name+":", stamp(x.inc.Time), strings.TrimSpace(x.inc.Message))
	}
}

func printRollout(w io.Writer, r *agent.RolloutStatus) {
	fmt.Fprintf(w, "Rollout:    wave %d (%s) of %d, by %s\n", r.Wave, r.WaveName, r.Waves, r.PlacedBy)
	head := r.Head
	if len(head) > 12 {
		head = head[:12]
	}
	line := fmt.Sprintf("head %s: %s", head, r.State)
	if r.State != "applied" && !r.ApplyAfter.IsZero() {
		line += ", its wave comes " + r.ApplyAfter.Local().Format(time.RFC3339)
		if d := time.Until(r.ApplyAfter); d > 0 {
			line += " (in " + d.Round(time.Second).String() + ")"
		}
	}
	fmt.Fprintln(w, "            "+line)
	fmt.Fprintln(w, "            "+r.Reason)
	if r.Note != "" {
		fmt.Fprintln(w, "            note: "+r.Note)
	}
}
