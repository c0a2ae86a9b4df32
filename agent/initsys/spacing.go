package initsys

import (
	"context"
	"sync"
	"time"
)

// reloads spaces reloads across every Reloader of the process: one node runs one Falco, and the
// agent may detect a fresh Reloader per pass.
var reloads spacer

type spacer struct {
	mu   sync.Mutex
	last time.Time
}

// wait blocks until gap has passed since the last reload, then records now as the last one.
func (s *spacer) wait(ctx context.Context, gap time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := time.Until(s.last.Add(gap)); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	s.last = time.Now()
	return nil
}

// mark records a reload that happened at t without us (Falco restarting on its own watch).
func (s *spacer) mark(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.After(s.last) {
		s.last = t
	}
}

// lastAt is the last reload known, or t when that is later.
func (s *spacer) lastAt(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last.After(t) {
		return s.last
	}
	return t
}
