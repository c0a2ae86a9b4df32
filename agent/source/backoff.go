package source

import (
	"errors"
	"time"
)

// Backoff spaces the retries of a polling loop after faults and says which faults deserve a log
// line: only the first of a run of equal faults does, so a server down for an hour is one line,
// not one per retry. The zero value waits 1s doubling to 5m. Not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration

	fails int
	last  string
}

// Failed records a failed attempt. wait is how long to wait before the next one (Min, doubling
// up to Max); report is true when err differs from the previous fault (by Kind and text), so the
// caller logs it.
func (b *Backoff) Failed(err error) (wait time.Duration, report bool) {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = max(lo, 5*time.Minute)
	}
	key := faultKey(err)
	report = b.fails == 0 || key != b.last
	b.last = key
	b.fails++
	wait = lo
	for i := 1; i < b.fails && wait < hi; i++ {
		wait *= 2
	}
	return min(wait, hi), report
}

// Succeeded records a successful attempt and reports whether it ends a run of faults, so the
// caller can log one "recovered" line.
func (b *Backoff) Succeeded() (recovered bool) {
	recovered = b.fails > 0
	b.fails, b.last = 0, ""
	return recovered
}

func faultKey(err error) string {
	if err == nil {
		return ""
	}
	var f *Fault
	if errors.As(err, &f) {
		return string(f.Kind) + "\x00" + f.Error()
	}
	return err.Error()
}
