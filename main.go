// Command rulekeeper keeps Falco's rule files in the state an HCL policy
// declares. See README.md.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Exit codes, as `terraform plan -detailed-exitcode`.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type command struct {
	run   func(args []string, stdout, stderr io.Writer) int
	usage string
}

var commands = map[string]command{
	"validate": {runValidate, "validate [DIR]     check a policy (no node needed), or --config FILE the agent's; --json"},
	"plan":     {runPlan, "plan --policy DIR  show the diff a pass would make; exit 0 none, 2 changes, 1 error"},
	"apply":    {runApply, "apply --policy DIR edit the rule files as the policy says"},
	"run":      {runDaemon, "run --config FILE  the node daemon (rulekeeperd): keep the rule files converged, catch drift"},
	"fleet":    {runFleet, "fleet --prometheus URL  the fleet as Prometheus sees it: commits, nodes behind, drifted, silent; exit 0 settled, 2 not, 1 error"},
	"status":   {runStatus, "status             what the state directory says: commit, rollout wave, managed values, last drift or error"},
	"wave":     {runWave, "wave --policy DIR  the rollout wave of a node (--hostname, --label) under the policy's rollout block"},
	"version":  {runVersion, "version            print the version"},
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	// A panic exits 2, which plan and apply --detailed-exitcode use for
	// "changes": a failure must never read as that.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "Error: internal error: %v\n%s", r, debug.Stack())
			code = exitError
		}
	}()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rulekeeper: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitError
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rulekeeper COMMAND [flags]\n\ncommands:")
	for _, name := range []string{"validate", "plan", "apply", "run", "status", "wave", "fleet", "version"} {
		fmt.Fprintln(w, "  "+commands[name].usage)
	}
	fmt.Fprintln(w, "\nrulekeeper COMMAND -h lists a command's flags.")
}

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "rulekeeper", version)
	return exitOK
}
