// Command packaging builds rulekeeper's .deb and .rpm:
//
//	go run ./packaging --out DIR [--version 1.2.3] [--arch amd64]
//
// It compiles rulekeeper and its daemon rulekeeperd from this module and
// packs them with the systemd unit, the SysV init script and the default
// agent configuration of packaging/files, using nfpm as a library: nothing is
// fetched but Go modules.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("packaging", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write the packages into (created if missing)")
	version := fs.String("version", "", "package version (default: from `git describe --tags`, else "+defaultVersion+")")
	arch := fs.String("arch", "amd64", "target architecture: amd64 or arm64")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: go run ./packaging --out DIR [--version X.Y.Z] [--arch amd64|arm64]")
		return 2
	}
	start := time.Now()
	files, err := Build(Options{Out: *out, Version: *version, Arch: *arch})
	if err != nil {
		fmt.Fprintln(stderr, "packaging:", err)
		return 1
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	fmt.Fprintf(stderr, "packaging: done in %.1fs\n", time.Since(start).Seconds())
	return 0
}
