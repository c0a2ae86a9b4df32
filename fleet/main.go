package fleet

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"
)

// Exit codes, as `terraform plan -detailed-exitcode`.
const (
	ExitSettled   = 0 // every node reports, on the newest commit, converged
	ExitError     = 1
	ExitUnsettled = 2 // some node is silent, behind or not converged
)

// Main is `rulekeeper fleet`: it reads the view and prints it; the exit
// code says whether the fleet is settled.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rulekeeper fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prom := fs.String("prometheus", "", "base URL of the Prometheus that scrapes the agents (required), e.g. http://prometheus:9090")
	job := fs.String("job", "rulekeeper", "the scrape job of the agents (job_name in Prometheus's config)")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "how long each query to Prometheus may take")
	if err := fs.Parse(args); err != nil {
		return ExitError
	}
	if fs.NArg() > 0 || *prom == "" {
		fmt.Fprintln(stderr, "usage: rulekeeper fleet --prometheus URL [--job rulekeeper] [--json] [--timeout 10s]")
		return ExitError
	}
	c, err := NewClient(*prom, *timeout, MaxResponse)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return ExitError
	}
	v, err := Read(context.Background(), c, *job)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return ExitError
	}
	if *asJSON {
		err = v.WriteJSON(stdout)
	} else {
		err = v.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return ExitError
	}
	if !v.Settled() {
		return ExitUnsettled
	}
	return ExitSettled
}
