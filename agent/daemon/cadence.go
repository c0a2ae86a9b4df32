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

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
