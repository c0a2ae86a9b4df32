// Package earlysignal catches the daemon's signals from the program's first
// moments. Go runs the init functions of every package the daemon imports
// (go-git, Prometheus, HCL: tens of milliseconds) before main, and a SIGHUP
// that lands meanwhile would end the process, SIGHUP's default action. This
// package imports nothing heavy, so Go initialises it among the first.
package earlysignal

import (
	"os"
	"os/signal"
	"syscall"
)

// C receives SIGHUP, SIGTERM and SIGINT from the start of the program.
var C = make(chan os.Signal, 8)

func init() {
	signal.Notify(C, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
}
