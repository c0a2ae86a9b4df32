package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rulekeeper/rulekeeper/agent/rollout"
	"github.com/rulekeeper/rulekeeper/policy"
)

// runWave is `rulekeeper wave`: the wave a node falls in under a policy's
// rollout block, computed as the agent computes it.
func runWave(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rulekeeper wave", flag.ContinueOnError)
	dir := fs.String("policy", ".", "directory holding the policy's *.hcl files")
	hostname := fs.String("hostname", "", "the node's hostname (default: this machine's)")
	lbl := labels{}
	fs.Var(lbl, "label", "node label key=value, as in the agent config (repeatable)")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, ok := parse(fs, args, stderr); !ok || len(pos) > 0 {
		if ok {
			fmt.Fprintln(stderr, "usage: rulekeeper wave [--policy DIR] [--hostname NAME] [--label key=value] [--json]")
		}
		return exitError
	}
	if *hostname == "" {
		*hostname, _ = os.Hostname()
	}
	p, diags := policy.Load(*dir)
	r, rdiags := p.Rollout()
	diags = append(diags, rdiags...)
	if len(diags) > 0 {
		policy.WriteDiagnostics(stderr, p.Files(), diags, false, 100)
	}
	if diags.HasErrors() {
		return exitError
	}
	if r == nil {
		if *asJSON {
			writeJSON(stdout, map[string]any{"hostname": *hostname, "rollout": nil})
		} else {
			fmt.Fprintln(stdout, "The policy has no rollout block: every node applies a new commit at once.")
		}
		return exitOK
	}
	pl := rollout.Place(r, *hostname, lbl)
	if *asJSON {
		writeJSON(stdout, map[string]any{"hostname": *hostname, "wave": pl.Wave, "wave_name": pl.Name, "waves": len(r.Waves),
			"placed_by": pl.By, "warning": pl.Warning, "applies_after": (time.Duration(pl.Wave) * r.Delay).String(), "paused": r.Paused})
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: wave %d (%s) of %d, by %s\n", *hostname, pl.Wave, pl.Name, len(r.Waves), pl.By)
	switch {
	case pl.Wave == 0:
		fmt.Fprintln(stdout, "It is the canary wave: it applies a new head at once.")
	case r.Paused:
		fmt.Fprintln(stdout, "The rollout is paused: this node applies nothing new until it is resumed.")
	default:
		fmt.Fprintf(stdout, "It applies a new head %v after its commit time", time.Duration(pl.Wave)*r.Delay)
		if r.Gate != nil {
			fmt.Fprint(stdout, ", once the gate passes")
		}
		fmt.Fprintln(stdout, ".")
	}
	if pl.Warning != "" {
		fmt.Fprintln(stderr, "Warning:", pl.Warning)
	}
	return exitOK
}
