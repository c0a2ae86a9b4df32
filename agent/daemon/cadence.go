package daemon

import (
	"math/rand/v2"
	"time"
)

// cadence is when a node polls: every interval from its first pass,
// shifted by an offset below the splay drawn once at start (as Puppet's
// splay and rhsmcertd's do). An offset drawn anew for each poll would let
// a gap reach interval + splay, so a push could wait that long for a
// node's next poll; drawn once, every gap is the interval, and nodes
// started together still poll apart. Passes between polls (an edit, a
// trigger) do not move it.
type cadence struct {
	interval, offset time.Duration
	at               time.Time // the next poll
}

func newCadence(interval, splay time.Duration) cadence {
	c := cadence{interval: interval}
	if splay > 0 {
		c.offset = rand.N(splay)
	}
	return c
}

// due is when the next poll is due, seen at now.
func (c *cadence) due(now time.Time) time.Time {
	if c.at.IsZero() {
		c.at = now.Add(c.interval + c.offset)
	}
	if !c.at.After(now) {
		// Polls missed (a long pass, a back-off) are not made up.
		c.at = c.at.Add((now.Sub(c.at)/c.interval + 1) * c.interval)
	}
	return c.at
}

// wakeup is what a pass learns of its next poll.
type wakeup struct {
	// retry is a source fault's back-off. It counts from the pass's end,
	// not the fault: whatever the pass did after the fault (tell it, check
	// the files), the server gets its whole rest.
	retry time.Duration
	// sooner is a time not to miss (a wave's, a deferred fetch's).
	sooner time.Time
}

func (w *wakeup) notAfter(t time.Time) {
	if w.sooner.IsZero() || t.Before(w.sooner) {
		w.sooner = t
	}
}

// at is the next poll for a pass that ends at end: due by the cadence, or
// the back-off after end, and never after sooner.
func (w wakeup) at(due, end time.Time) time.Time {
	next := due
	if w.retry > 0 {
		next = end.Add(w.retry)
	}
	if !w.sooner.IsZero() && w.sooner.Before(next) {
		next = w.sooner
	}
	return next
}
