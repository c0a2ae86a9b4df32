package initsys

import (
	"strings"
	"time"
)

// loadSeen tells from the log whether Falco loaded its rules after since, for every version:
//
//	0.32.1: "Loading rules from file /etc/falco/falco_rules.yaml:" per file; a failure logs "Error:
//	        Could not load rules file ..." and Falco exits.
//	0.40.0: "Loading rules from:" then "   /etc/falco/falco_rules.yaml | schema validation: ok" per
//	        file. Before a restart (its file watch, SIGHUP) it loads the new rules on the side: the
//	        same lines, then "SIGHUP received, restarting..." and the real load, which goes on to
//	        open its event sources; a refused change logs "Falco internal: hot restart failure" and
//	        keeps the old rules running.
//
// state is "none" (no load seen), "restarting" (a restart with no load yet), "loading" (a load
// not yet proven: too recent, or 0.40's trial), "loaded" (a real load, and no error or restart
// for settle since), or "failed".
func loadSeen(ls []LogLine, settle time.Duration, now time.Time) (state string, last time.Time) {
	state = "none"
	trial := false // a 0.40-style load that has not yet opened its sources
	for _, l := range ls {
		t := stripFalcoTime(l.Text)
		switch {
		case strings.Contains(t, "hot restart failure"):
			state, last = "failed", l.At
		case strings.HasPrefix(t, "Loading rules from file"):
			state, last, trial = "loading", l.At, false
		case strings.HasPrefix(t, "Loading rules from:"):
			state, last, trial = "loading", l.At, true
		case strings.Contains(t, "SIGHUP received, restarting") || strings.Contains(t, "changed, restarting"):
			state, last = "restarting", l.At
		case state == "loading" && trial && startedSources(t):
			last, trial = l.At, false
		case state == "loading" && (strings.HasPrefix(t, "Error") || strings.Contains(t, "Could not load rules")):
			state, last = "failed", l.At
		}
	}
	switch {
	case state == "loading" && !trial && now.Sub(last) >= settle:
		state = "loaded"
	case state == "loading" && trial && now.Sub(last) >= trialWait:
		// The trial went neither on to a restart nor to running sources: Falco refused the rules.
		// Its "hot restart failure" is an event output, which may sit in its stdout buffer (a log
		// file) or be lost (no syslog); the journal usually has it at once from syslog.
		state = "failed"
	}
	return state, last
}

// trialWait is how long a 0.40-style load may go without a restart or a started source before
// it counts as refused: the trial and its SIGHUP are milliseconds apart, a real load opens its
// sources once the rules compile (about a second for Falco's default rules).
// It is shorter than WatchWait's default, so that a refusal is not taken for a Falco that does
// not watch its files.
const trialWait = 3 * time.Second

// startedSources: a line 0.40+ logs once the rules it loaded run (never after a trial load).
func startedSources(t string) bool {
	for _, p := range []string{"Loaded event sources", "Enabled event sources", "Opening '", "Starting health webserver"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}
