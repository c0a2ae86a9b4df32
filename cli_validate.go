package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/policy"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rulekeeper validate", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the diagnostics as JSON")
	falcoVersion := fs.String("falco-version", "", "check %fields against this Falco version's catalogue (default: the policy's falco_version, else the newest)")
	lbl := labels{}
	fs.Var(lbl, "label", "make node label key=value known (repeatable); other facts stay unknown")
	config := fs.String("config", "", "check this agent configuration file instead of a policy")
	pos, ok := parse(fs, args, stderr)
	if !ok {
		return exitError
	}
	if *config != "" {
		if len(pos) > 0 {
			fmt.Fprintln(stderr, "usage: rulekeeper validate --config FILE [--json] (no policy folder with --config)")
			return exitError
		}
		return validateConfig(*config, *asJSON, stdout, stderr)
	}
	dir := "."
	switch len(pos) {
	case 0:
	case 1:
		dir = pos[0]
	default:
		fmt.Fprintln(stderr, "usage: rulekeeper validate [DIR] [--json]")
		return exitError
	}
	var known map[string]string
	if len(lbl) > 0 {
		known = lbl
	}
	p, diags := policy.Load(dir)
	n := policy.UnknownNode(known)
	n.FalcoVersion = *falcoVersion
	_, ediags := p.Evaluate(n)
	diags = append(diags, ediags...)
	w := stderr
	if *asJSON {
		w = stdout
	}
	if *asJSON || len(diags) > 0 {
		if err := policy.WriteDiagnostics(w, p.Files(), diags, *asJSON, 100); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return exitError
		}
	}
	if diags.HasErrors() {
		return exitError
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "Success! The policy in %s is valid.\n", dir)
	}
	return exitOK
}

// validateConfig checks an agent configuration file with the diagnostics
// policies get.
func validateConfig(file string, asJSON bool, stdout, stderr io.Writer) int {
	l := agent.LoadConfig(file)
	w := stderr
	if asJSON {
		w = stdout
	}
	if asJSON || len(l.Diags) > 0 {
		if err := policy.WriteDiagnostics(w, l.Files, l.Diags, asJSON, 100); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return exitError
		}
	}
	if l.Diags.HasErrors() {
		return exitError
	}
	if !asJSON {
		fmt.Fprintf(stdout, "Success! The agent configuration %s is valid.\n", file)
	}
	return exitOK
}
