package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/policy"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rulekeeper plan", flag.ContinueOnError)
	var nf nodeFlags
	nf.register(fs)
	if _, ok := parse(fs, args, stderr); !ok {
		return exitError
	}
	in, falco := nf.input(false)
	out, err := agent.Converge(context.Background(), in)
	if code, done := failed(out, err, nf.json, stdout, stderr); done {
		return code
	}
	if nf.json {
		writeJSON(stdout, planJSON(out.Plan, nil, nil))
	} else {
		printPlan(stdout, stderr, out.Plan, falco)
	}
	if out.Plan.Empty() {
		return exitOK
	}
	return exitChanges
}

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rulekeeper apply", flag.ContinueOnError)
	var nf nodeFlags
	nf.register(fs)
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when nothing changed, 2 when files changed, 1 on error (for image builds)")
	reload := fs.Bool("reload", true, "after changing files, reload Falco through the init system found (and roll back if it does not come back)")
	method := fs.String("reload-method", "", "force a reload method: watch, systemd, sysv, signal or none (default: detect)")
	if _, ok := parse(fs, args, stderr); !ok {
		return exitError
	}
	in, falco := nf.input(true)
	if *reload {
		r, why, err := initsys.Detect(context.Background(), initsys.Options{Root: nf.root, Method: initsys.Method(*method)})
		if err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return exitError
		}
		if r.Method() == initsys.MethodNone {
			fmt.Fprintln(stderr, "Note: Falco will not be reloaded:", why)
		} else {
			in.Reloader = r
		}
	}
	out, err := agent.Converge(context.Background(), in)
	if code, done := failed(out, err, nf.json, stdout, stderr); done {
		return code
	}
	if nf.json {
		writeJSON(stdout, planJSON(out.Plan, out.Result, out.Reload))
	} else {
		printPlan(stdout, stderr, out.Plan, falco)
		if out.Result != nil && len(out.Result.Swept) > 0 {
			fmt.Fprintln(stderr, "Note: removed the temporary files an interrupted pass had left:", strings.Join(out.Result.Swept, ", "))
		}
		if !out.Plan.Empty() {
			fmt.Fprintf(stdout, "Applied: %d file(s) changed.\n", len(out.Plan.Files))
		}
		if out.Reload != nil && out.Reload.Verified {
			fmt.Fprintf(stdout, "Falco reloaded (%s) and running with the new files.\n", out.Reload.Method)
		}
	}
	if *detailed && !out.Plan.Empty() {
		return exitChanges
	}
	return exitOK
}

// failed prints what went wrong, if anything did.
func failed(out *agent.Outcome, err error, asJSON bool, stdout, stderr io.Writer) (int, bool) {
	if out != nil && len(out.Diags) > 0 {
		w := stderr
		if asJSON && errors.Is(err, agent.ErrInvalidPolicy) {
			w = stdout
		}
		policy.WriteDiagnostics(w, out.Files, out.Diags, asJSON && w == stdout, 100)
	}
	if err == nil {
		return 0, false
	}
	if errors.Is(err, agent.ErrInvalidPolicy) {
		if !asJSON {
			fmt.Fprintln(stderr, "Error:", err)
		}
		return exitError, true
	}
	if asJSON {
		writeJSON(stdout, map[string]any{"error": err.Error()})
	} else {
		fmt.Fprintln(stderr, "Error:", err)
	}
	return exitError, true
}

func printPlan(stdout, stderr io.Writer, p *reconcile.Plan, falco agent.Falco) {
	for _, n := range p.Notes {
		fmt.Fprintln(stderr, "Note:", n)
	}
	if p.Empty() {
		fmt.Fprintln(stdout, "No changes: the rule files are as the policy says.")
		return
	}
	// One write: a reader at the other end of a pipe gets the plan whole.
	var b strings.Builder
	fmt.Fprintf(&b, "Strategy %s", p.Strategy)
	if p.FalcoVersion != "" {
		fmt.Fprintf(&b, ", Falco %s", p.FalcoVersion)
	}
	b.WriteString(".\n" + p.Summary() + "\n" + p.Diff())
	io.WriteString(stdout, b.String())
}

type filePlan struct {
	*reconcile.FileChange
	Diff string `json:"diff"`
}

func planJSON(p *reconcile.Plan, res *reconcile.Result, rl *agent.Reload) any {
	files := []filePlan{}
	for _, fc := range p.Files {
		files = append(files, filePlan{fc, fc.Diff()})
	}
	return map[string]any{
		"changes":       !p.Empty(),
		"strategy":      p.Strategy,
		"falco_version": p.FalcoVersion,
		"files":         files,
		"notes":         p.Notes,
		"applied":       res,
		"reload":        rl,
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(w, `{"error": "encoding JSON failed"}`)
	}
}
