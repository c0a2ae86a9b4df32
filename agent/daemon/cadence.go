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
	due              time.Time
}

func newCadence(interval, splay time.Duration) cadence {
	c := cadence{interval: interval}
	if splay > 0 {
		c.offset = rand.N(splay)
	}
	return c
}

// next is how long from now until the next poll is due.
func (c *cadence) next(now time.Time) time.Duration {
	if c.due.IsZero() {
		c.due = now.Add(c.interval + c.offset)
	}
	if !c.due.After(now) {
		// Polls missed (a long pass, a back-off) are not made up.
		c.due = c.due.Add((now.Sub(c.due)/c.interval + 1) * c.interval)
	}
	return c.due.Sub(now)
}
