package daemon

import (
	"context"
	"os"
	"testing"
	"time"
)

// A poll that finds nothing new (same policy, files as last seen) does no
// pass: no plan, and status keeps the time the node last converged. A
// trigger (a change of the rule files) plans again, and so does a poll
// once fullEvery has gone by since the last whole pass.
func TestIdlePollDoesNoWork(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	converged := func() time.Time { return d.loop.status.ConvergedAt }
	d.pass(ctx, false)
	first := converged()
	if first.IsZero() {
		t.Fatal("the first pass did not converge the node")
	}
	time.Sleep(2 * time.Millisecond)
	for range 3 {
		d.pass(ctx, false)
	}
	if got := converged(); !got.Equal(first) {
		t.Errorf("polls with nothing new ran whole passes: converged at %v, then %v", first, got)
	}
	kept, err := os.Stat(d.goodDir())
	if err != nil {
		t.Fatal(err)
	}
	d.pass(ctx, true)
	triggered := converged()
	if !triggered.After(first) {
		t.Errorf("a triggered pass did not run whole: converged at %v, then %v", first, triggered)
	}
	// The copy of the last good policy is swapped in whole when it changes:
	// a pass on the same policy leaves it as it was.
	if now, err := os.Stat(d.goodDir()); err != nil || !os.SameFile(kept, now) {
		t.Errorf("a whole pass on the same policy wrote the last good policy's copy again (%v)", err)
	}
	time.Sleep(2 * time.Millisecond)
	d.loop.full = time.Now().Add(-fullEvery)
	d.pass(ctx, false)
	if got := converged(); !got.After(triggered) {
		t.Errorf("a poll %v after the last whole pass did not run whole", fullEvery)
	}
}

// A source URL is shown without its user info, in status and logs.
func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://fleet-bot:tok@git.example.com/policy.git": "https://git.example.com/policy.git",
		"ssh://git@git.example.com/policy.git":             "ssh://git.example.com/policy.git",
		"https://git.example.com/policy.git":               "https://git.example.com/policy.git",
		"http://[::1":                                      "http://[::1", // does not parse: shown as it is
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
