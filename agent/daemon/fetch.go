package daemon

// Deferred fetches: a node of a later wave sees a new head with the ref
// listing of its poll and leaves the pack on the server for a while
// (rollout.FetchDelay), so that a push costs the server the canary's
// fetches first; it keeps running its policy meanwhile.

import (
	"time"

	"github.com/rulekeeper/rulekeeper/agent/rollout"
	"github.com/rulekeeper/rulekeeper/policy"
)

// deferredFetch is the loop's memory of heads seen on the server.
type deferredFetch struct {
	// since is when the node first saw a head it has not fetched; a
	// second push meanwhile does not restart the wait. Zero once fetched.
	since time.Time
	at    time.Time // when the node fetches
	head  string    // the head last seen on the server
	seen  time.Time // when head was first seen there, for its wave's start
	told  string    // the head last logged

	// The rollout block of the policy the node runs, read once per commit.
	runs    string
	running *policy.Rollout
}

// fetchNow tells the source whether to fetch head now. It is asked only
// when the clone lacks head.
func (d *Daemon) fetchNow(head string) bool {
	now := time.Now()
	f := &d.loop.fetch
	if f.head != head {
		f.head, f.seen = head, now
	}
	if f.since.IsZero() {
		f.since = now
	}
	gdir, gcommit := d.good()
	if gdir == "" {
		return true // a new node applies the head at once
	}
	if f.runs != gcommit {
		f.runs, f.running = gcommit, nil
		if p, diags := policy.Load(gdir); !diags.HasErrors() {
			f.running, _ = p.Rollout()
		}
	}
	if f.running == nil {
		return true
	}
	place := rollout.Place(f.running, d.node.Hostname, d.node.Labels)
	f.at = f.since.Add(rollout.FetchDelay(f.running, place, d.node.Hostname, d.cfg.Interval))
	if !now.Before(f.at) {
		return true
	}
	if f.told != head {
		f.told = head
		d.log.Info("a new head is on the server; this node fetches it later, so that the earlier waves' fetches come first",
			"head", head, "wave", place.Wave, "fetch_at", f.at.UTC().Format(time.RFC3339))
	}
	return false
}

// firstSeen is when the node first saw commit on the server, zero when
// not known.
func (d *Daemon) firstSeen(commit string) time.Time {
	if f := &d.loop.fetch; f.head == commit {
		return f.seen
	}
	return time.Time{}
}
