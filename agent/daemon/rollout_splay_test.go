package daemon

import (
	"context"
	"testing"
	"time"
)

// A node waiting for its wave polls again when the wave comes, plus its own
// random part of the splay: the nodes of a wave, which all compute the same
// deadline, do not all ask the git server in the same instant (a fleet of a
// thousand in three waves put 350 requests on the server at once).
// Without splay, the node comes at its wave's time exactly.
func TestWaveWaitTakesSplay(t *testing.T) {
	t.Parallel()
	// Long enough that the wave has not come by the last pass, however
	// slow the machine: the passes are called here, nothing waits for it.
	const delay = time.Minute
	for _, splay := range []time.Duration{0, time.Minute} {
		l := newLab(t, labOpts{interval: "1h"})
		cfg := l.config()
		cfg.Splay = splay
		cfg.Node.Labels = map[string]string{"rulekeeper_wave": "rest"}
		d, err := New(cfg, Options{Root: l.root})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		d.pass(ctx, false) // a new node applies the head at once
		l.commit("policy.hcl", rolloutPolicy(t, "", "LATER SHELL!!!", "", delay))
		var waits []time.Duration
		for range 6 {
			w := d.pass(ctx, true)
			r := d.loop.status.Rollout
			if r == nil || r.State != "waiting" {
				t.Fatalf("splay %v: the node does not wait for its wave: %+v", splay, r)
			}
			// The pass computed its wait a moment before this reads the deadline.
			due := time.Until(r.ApplyAfter)
			if w < due-50*time.Millisecond || w > due+splay+500*time.Millisecond {
				t.Errorf("splay %v: next poll in %v, want between the wave's time (%v) and that plus the splay", splay, w, due)
			}
			waits = append(waits, w-due)
		}
		late := 0
		for _, w := range waits {
			if w > time.Second {
				late++
			}
		}
		// Six draws of a minute's splay all under a second: (1/60)^6.
		if splay > 0 && late == 0 {
			t.Errorf("splay %v: every wait ends within a second of the wave's time (%v): the splay is not applied", splay, waits)
		}
		if splay == 0 && late > 0 {
			t.Errorf("no splay: waits past the wave's time %v", waits)
		}
		d.watcher.Close()
		d.lock.Close()
	}
}
