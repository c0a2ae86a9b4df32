package daemon

import (
	"context"
	"testing"
	"time"
)

// A node waiting for its wave polls again when the wave comes, plus its own
// offset within the splay: the nodes of a wave, which all compute the same
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
		if splay > 0 {
			d.polls.offset = 40 * time.Second // the draw, made known
		}
		ctx := context.Background()
		d.pass(ctx, false) // a new node applies the head at once
		l.commit("policy.hcl", rolloutPolicy(t, "", "LATER SHELL!!!", "", delay))
		for range 3 {
			at := d.pass(ctx, true)
			r := d.loop.status.Rollout
			if r == nil || r.State != "waiting" {
				t.Fatalf("splay %v: the node does not wait for its wave: %+v", splay, r)
			}
			if want := r.ApplyAfter.Add(d.polls.offset); !at.Equal(want) {
				t.Errorf("splay %v: next poll at %v, want the wave's time plus the node's offset (%v)", splay, at, want)
			}
		}
		closeIdle(d)
	}
}
