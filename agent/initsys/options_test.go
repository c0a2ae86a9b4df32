package initsys

import (
	"strings"
	"testing"
	"time"
)

// The defaults the README states: Falco's paths as its packages install
// them, reloads at least 2 s apart, 500 ms for a restarted Falco to settle,
// 5 s for Falco's own watch to load written files.
func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.FalcoConfig != "/etc/falco/falco.yaml" || o.PidFile != "/var/run/falco.pid" || o.InitScript != "/etc/init.d/falco" ||
		o.MinGap != 2*time.Second || o.Settle != 500*time.Millisecond || o.WatchWait != 5*time.Second || o.Logger == nil {
		t.Fatalf("defaults: %+v", o)
	}
	set := Options{FalcoConfig: "/c", PidFile: "/p", InitScript: "/i", MinGap: time.Millisecond, Settle: time.Millisecond, WatchWait: time.Millisecond}
	if got := set.withDefaults(); got.FalcoConfig != "/c" || got.PidFile != "/p" || got.InitScript != "/i" ||
		got.MinGap != time.Millisecond || got.Settle != time.Millisecond || got.WatchWait != time.Millisecond {
		t.Fatalf("settings given were replaced: %+v", got)
	}
}

// A verify error quotes Falco's last log lines when there are some, and
// says nothing of a log when there are none.
func TestVerifyErrorText(t *testing.T) {
	e := &VerifyError{Method: MethodSignal, Reason: "falco exited", LogSource: "/var/log/falco.log"}
	if got := e.Error(); got != "falco did not come back with the new files (signal): falco exited" {
		t.Fatalf("without log lines: %q", got)
	}
	e.Log = []string{"Error: x.yaml: Invalid", "1 errors"}
	if got := e.Error(); !strings.HasSuffix(got, "; last log lines (/var/log/falco.log):\n  Error: x.yaml: Invalid\n  1 errors") {
		t.Fatalf("with log lines: %q", got)
	}
}
