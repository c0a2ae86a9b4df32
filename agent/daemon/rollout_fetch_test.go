package daemon

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent/rollout"
	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
	"github.com/rulekeeper/rulekeeper/policy"
)

// A push costs the server the canary's pack first: a node of a later wave
// sees the new head in its ref listing and leaves the pack on the server
// for rollout.FetchDelay (one interval and its own spread, at most half
// its wave's delay), then fetches it and applies it at its wave's time,
// counted from when it first saw it. An immediate commit reaches it within
// interval + FetchDelay (under three intervals). Each node has a
// smart-HTTP server of its own, so that each server's upload-pack requests
// are one node's fetches.
func TestLaterWavesFetchLater(t *testing.T) {
	const interval, delay = 2 * time.Second, 10 * time.Second
	u := gitserve.NewUpstream(t)
	key := gitserve.NewKey(t, "policy-author")
	c0 := u.SignedCommit("first", map[string]string{"policy.hcl": rolloutPolicy(t, "", "NEW SHELL!!!", "", delay)}, key)
	canarySrv := gitserve.StartHTTP(t, u.Root, "bot", "pw")
	restSrv := gitserve.StartHTTP(t, u.Root, "bot", "pw")
	pw := filepath.Join(t.TempDir(), "pw")
	gitserve.WriteFile(t, pw, "pw\n")
	src := fmt.Sprintf("  username      = \"bot\"\n  password_file = %q\n  verify {\n    keyring = %q\n  }", pw, gitserve.WriteKeyring(t, key))
	started := time.Now()
	canary := startFleetNode(t, "canary-1", canarySrv.URL+"/policy.git", fleetOpts{labels: `rulekeeper_wave = "canary"`, source: src, interval: interval.String()})
	rest := startFleetNode(t, "rest-1", restSrv.URL+"/policy.git", fleetOpts{labels: `rulekeeper_wave = "rest"`, source: src, interval: interval.String()})
	canary.waitApplied("NEW SHELL!!!", c0)
	rest.waitApplied("NEW SHELL!!!", c0)
	// A node that has applied nothing fetches the head at once, whatever its
	// wave: well before the wave's delay (half of it leaves a slow machine
	// its start-up).
	if took := rest.status().AppliedAt.Sub(started); took > delay/2 {
		t.Errorf("the new node of wave 1 applied the head %v after it started, want its first pass", took)
	}

	wait := rollout.FetchDelay(&policy.Rollout{Delay: delay}, rollout.Placement{Wave: 1}, "rest-1", interval)
	if wait < interval || wait >= 2*interval {
		t.Fatalf("FetchDelay of rest-1 = %v, want one interval and a spread below one more", wait)
	}
	canaryPacks, restPacks := canarySrv.Packs.Load(), restSrv.Packs.Load()
	c1 := u.SignedCommit("second", map[string]string{"policy.hcl": rolloutPolicy(t, "", "LATER SHELL!!!", "", delay)}, key)
	pushed, c1Time := time.Now(), commitTime(t, u)
	canary.waitApplied("LATER SHELL!!!", c1)
	if canarySrv.Packs.Load() != canaryPacks+1 {
		t.Errorf("the canary made %d upload-pack requests for the new head, want 1", canarySrv.Packs.Load()-canaryPacks)
	}
	rest.waitLine("a new head is on the server", 2*interval)
	if n := restSrv.Packs.Load() - restPacks; n != 0 {
		t.Fatalf("the wave-1 node fetched the head %d times at the push", n)
	}
	testwait.Eventually(t, interval+wait+2*time.Second, "the wave-1 node never fetched the head", func() bool { return restSrv.Packs.Load() > restPacks })
	fetched := time.Now()
	if got := fetched.Sub(pushed); got < wait-100*time.Millisecond {
		t.Errorf("the wave-1 node fetched the head %v after the push, before its FetchDelay %v", got, wait)
	}
	testwait.Eventually(t, 2*time.Second, "the wave-1 node does not wait for its wave with the head fetched", func() bool {
		r := rest.rollout()
		return r != nil && r.Head == c1 && r.State == "waiting"
	})
	// Its wave counts from when it saw the head on the server, not from the fetch.
	if r := rest.rollout(); !r.ApplyAfter.Equal(c1Time.Add(delay)) || r.FirstSeen.After(fetched.Add(-wait+200*time.Millisecond)) {
		t.Errorf("rollout status %+v: want apply_after %v and first_seen about %v", r, c1Time.Add(delay), fetched.Add(-wait))
	}
	if rest.has("LATER SHELL!!!") {
		t.Fatal("the wave-1 node applied the head before its wave")
	}
	rest.waitApplied("LATER SHELL!!!", c1)
	if at := rest.status().AppliedAt; at.Before(c1Time.Add(delay)) {
		t.Errorf("the wave-1 node applied at %v, before its wave at %v", at, c1Time.Add(delay))
	}
	if n := restSrv.Packs.Load() - restPacks; n != 1 {
		t.Errorf("the wave-1 node made %d upload-pack requests for one head, want 1", n)
	}

	// The emergency path: the node learns of the trailer only with the
	// commit, so the fetch's wait bounds it.
	restPacks = restSrv.Packs.Load()
	urgent := u.SignedCommit("urgent fix\n\nRollout: immediate\n", map[string]string{"policy.hcl": rolloutPolicy(t, "", "URGENT SHELL!!!", "", delay)}, key)
	pushed = time.Now()
	bound := interval + wait // the poll that sees the head, then FetchDelay
	testwait.Eventually(t, bound+2*time.Second, "the immediate commit did not reach wave 1 within interval + FetchDelay", func() bool { return rest.has("URGENT SHELL!!!") })
	reached := time.Since(pushed)
	t.Logf("the immediate commit reached wave 1 %v after the push (bound %v)", reached.Round(time.Millisecond), bound)
	// This head's wait counts from when the node saw it, not from when it
	// saw the head before.
	if reached < wait-100*time.Millisecond {
		t.Errorf("the wave-1 node applied the immediate commit %v after the push, before its FetchDelay %v: the wait of the head before was kept", reached, wait)
	}
	if n := restSrv.Packs.Load() - restPacks; n != 1 {
		t.Errorf("the wave-1 node made %d upload-pack requests for the immediate commit, want 1", n)
	}
	testwait.Eventually(t, 5*time.Second, "status", func() bool { return rest.status().Commit == urgent })
}

// A node of a later wave holds a head, then the branch is force-pushed to
// a history without the commit the node runs: when the node applies the
// new head, after its own wait, the applied alert says that history was
// rewritten and names the commit it ran.
func TestForcePushWhileHeldIsTold(t *testing.T) {
	const later = 3 * time.Second
	u := gitserve.NewUpstream(t)
	srv := gitserve.StartDaemon(t, u.Root)
	c0 := u.Commit("run", map[string]string{"policy.hcl": rolloutPolicy(t, "", "NEW SHELL!!!", "", time.Hour)})
	n := startFleetNode(t, "rest-1", srv.URL("policy.git"), fleetOpts{labels: `rulekeeper_wave = "rest"`})
	n.waitApplied("NEW SHELL!!!", c0)
	held := u.Commit("held for an hour", map[string]string{"policy.hcl": rolloutPolicy(t, "", "HELD SHELL!!!", "", time.Hour)})
	testwait.Eventually(t, 10*time.Second, "the node does not hold the head", func() bool {
		r := n.rollout()
		return r != nil && r.Head == held && r.State == "waiting"
	})

	u.Git("checkout", "-q", "--orphan", "rewritten")
	u.Commit("a history without the commit the node runs", map[string]string{"policy.hcl": rolloutPolicy(t, "", "REWRITTEN SHELL!!!", "", later)})
	u.Git("push", "-q", "--force", "origin", "HEAD:refs/heads/main")
	forced := u.Git("rev-parse", "HEAD")
	testwait.Eventually(t, 10*time.Second, "the node does not hold the force-pushed head for its wave", func() bool {
		r := n.rollout()
		return r != nil && r.Head == forced && r.State == "waiting"
	})
	n.waitApplied("REWRITTEN SHELL!!!", forced)
	e := n.hook.wait(t, 5*time.Second, "applied", func(e hookEvent) bool { return e.f("commit") == forced })
	if e.f("history_rewritten") != "true" || e.f("previous") != c0 || e.Priority != "Warning" || !strings.Contains(e.Output, "history was rewritten") {
		t.Errorf("the applied alert of the force-pushed head does not say history was rewritten over %s: %s %s %+v", c0, e.Priority, e.Output, e.OutputFields)
	}
	if n.has("HELD SHELL!!!") {
		t.Error("the node applied the head it held, which is no longer the head")
	}
}

// A server that goes down while a later wave waits to fetch a head: the
// node keeps its policy and polls at its backoff's pace, not in a loop
// (the failed polls return the last checkout, which still knows it is not
// the head).
func TestServerDownWhileAFetchWaits(t *testing.T) {
	const interval = time.Second
	u := gitserve.NewUpstream(t)
	srv := gitserve.StartDaemon(t, u.Root)
	c0 := u.Commit("first", map[string]string{"policy.hcl": rolloutPolicy(t, "", "NEW SHELL!!!", "", time.Hour)})
	n := startFleetNode(t, "rest-1", srv.URL("policy.git"), fleetOpts{labels: `rulekeeper_wave = "rest"`, interval: interval.String()})
	n.waitApplied("NEW SHELL!!!", c0)
	u.Commit("second", map[string]string{"policy.hcl": rolloutPolicy(t, "", "LATER SHELL!!!", "", time.Second)})
	n.waitLine("a new head is on the server", 3*interval)
	srv.Stop()
	passes := n.d.Passes()
	time.Sleep(4 * interval) // past the fetch's wait, which is under 2 intervals
	if got := n.d.Passes() - passes; got > 8 {
		t.Errorf("%d passes in %v with the server down, want a few at the backoff's pace", got, 4*interval)
	}
	if n.has("LATER SHELL!!!") || n.status().Commit != c0 {
		t.Error("the node left its policy while the server was down")
	}
}
