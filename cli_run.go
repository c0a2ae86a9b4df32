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
// the start-up time of every `rulekeeper apply`.
func runDaemon(args []string, _, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "Error: rulekeeper run: cannot find this program's directory:", err)
		return exitError
	}
	prog := filepath.Join(filepath.Dir(self), daemonProgram)
	// A SIGHUP between here and the daemon's handler must not end it: an
	// ignored signal stays ignored across exec until rulekeeperd handles it.
	signal.Ignore(syscall.SIGHUP)
	err = syscall.Exec(prog, append([]string{daemonProgram}, args...), os.Environ())
	fmt.Fprintf(stderr, "Error: rulekeeper run starts %s: %v (the rulekeeper package installs both programs in /usr/bin; from source: go build -o %s ./cmd/rulekeeperd)\n", prog, err, filepath.Dir(self)+"/")
	return exitError
}
