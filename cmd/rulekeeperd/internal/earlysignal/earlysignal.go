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

// Reload receives SIGHUP and Stop SIGTERM and SIGINT, from the start of the
// program. They are apart because Go drops a signal whose channel is full:
// on one channel, a burst of SIGHUPs read too slowly (a loaded machine, a
// reload loop) would drop the SIGTERM behind it, and the daemon would not
// stop. One pending signal of each kind is enough: SIGHUPs coalesce into
// one more pass anyway, and a second SIGTERM asks nothing more.
var (
	Reload = make(chan os.Signal, 1)
	Stop   = make(chan os.Signal, 1)
)

func init() {
	signal.Notify(Reload, syscall.SIGHUP)
	signal.Notify(Stop, syscall.SIGTERM, syscall.SIGINT)
}
