package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// daemonProgram is the daemon's program, installed beside rulekeeper.
const daemonProgram = "rulekeeperd"

// runDaemon is `rulekeeper run`: this process becomes rulekeeperd (same
// pid, so systemd's Type=notify and signals reach the daemon). The daemon is
// a program of its own because its git, HTTP and metrics code would double
// the start-up time of every `rulekeeper apply`; `rulekeeper fleet` runs
// there too for the same reason (net/http alone adds about 2 ms of
// package initialisation to every start).
func runDaemon(args []string, _, stderr io.Writer) int {
	// A SIGHUP between here and the daemon's handler must not end it: an
	// ignored signal stays ignored across exec until rulekeeperd handles it.
	signal.Ignore(syscall.SIGHUP)
	return execDaemon(args, stderr, "rulekeeper run")
}

// runFleet is `rulekeeper fleet`: rulekeeperd answers it (fleet.Main), as
// it already carries the HTTP client this command needs.
func runFleet(args []string, _, stderr io.Writer) int {
	return execDaemon(append([]string{"fleet"}, args...), stderr, "rulekeeper fleet")
}

// execDaemon replaces this process with rulekeeperd ARGS; it returns only
// when that fails.
func execDaemon(args []string, stderr io.Writer, what string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "Error: %s: cannot find this program's directory: %v\n", what, err)
		return exitError
	}
	prog := filepath.Join(filepath.Dir(self), daemonProgram)
	err = syscall.Exec(prog, append([]string{daemonProgram}, args...), os.Environ())
	fmt.Fprintf(stderr, "Error: %s starts %s: %v (the rulekeeper package installs both programs in /usr/bin; from source: go build -o %s ./cmd/rulekeeperd)\n", what, prog, err, filepath.Dir(self)+"/")
	return exitError
}
