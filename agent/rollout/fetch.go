package rollout

import (
	"hash/fnv"
	"time"

	"github.com/rulekeeper/rulekeeper/policy"
)

// FetchDelay is how long a node leaves a new head on the git server after it first sees it
// there, so that a push costs the server the canary's packs first rather than the whole fleet's
// at once. r and p are the rollout block of the policy the node runs and its wave under it
// (the new head's own block is unknown until fetched). Wave 0, and a node whose policy has no
// rollout block, fetch at once. A later wave waits one poll interval plus a spread of its own,
// Spread(hostname, interval), and never more than half of k × delay: under an unchanged block
// it has fetched the head, and read its true time, well before its wave comes. The bound is
// what delays the emergency path (`Rollout: immediate`): under two intervals more.
func FetchDelay(r *policy.Rollout, p Placement, hostname string, interval time.Duration) time.Duration {
	if r == nil || p.Wave == 0 {
		return 0
	}
	return min(interval+Spread(hostname, interval), time.Duration(p.Wave)*r.Delay/2)
}

// Spread is a node's own part of span, the same on every call: FNV-1a 64 of the hostname
// modulo span. (The wave uses FNV-1a 32: the two do not line up, so a wave's nodes spread
// over the whole span.)
func Spread(hostname string, span time.Duration) time.Duration {
	if span <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(hostname))
	return time.Duration(h.Sum64() % uint64(span))
}
