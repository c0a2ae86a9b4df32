// Package rollout decides, on each node alone, whether the node applies the
// head commit of its policy branch now: every node reads the same inputs
// (the commit, its committer time, the policy's rollout block) and its own
// hostname and labels, so the whole fleet agrees on who goes when without
// any controller. It does no I/O.
package rollout

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Placement is a node's wave and how it was found.
type Placement struct {
	Wave int    // 0-based; wave 0 is the canary
	Name string // the wave's name ("0", "1", ... when waves is a count)
	By   string // how: "label rulekeeper_wave=canary" or "hash of hostname ..."
	// Warning says why a label was not used, "" when all is well.
	Warning string
}

// HashWave is the wave of a node without a wave label: FNV-1a (32 bits) of
// the hostname's bytes, modulo the number of waves. Any operator can predict
// it (`rulekeeper wave --hostname NAME`), it never changes for a host, and
// it spreads hostnames evenly.
func HashWave(hostname string, waves int) int {
	h := fnv.New32a()
	h.Write([]byte(hostname))
	return int(h.Sum32() % uint32(waves))
}

// Place finds the node's wave: the wave its label names (by name or by
// number), else HashWave of its hostname. A label that names no wave puts
// the node in the last wave, the most careful choice, and says so.
func Place(r *policy.Rollout, hostname string, labels map[string]string) Placement {
	n := len(r.Waves)
	if v, ok := labels[r.WaveLabel]; ok {
		by := fmt.Sprintf("label %s=%s", r.WaveLabel, v)
		for i, name := range r.Waves {
			if v == name {
				return Placement{Wave: i, Name: name, By: by}
			}
		}
		if i, err := strconv.Atoi(v); err == nil && i >= 0 && i < n {
			return Placement{Wave: i, Name: r.Waves[i], By: by}
		}
		return Placement{Wave: n - 1, Name: r.Waves[n-1], By: by,
			Warning: fmt.Sprintf("the label %s=%q names no wave (the waves are %q, or 0 to %d): the node takes the last wave", r.WaveLabel, v, r.Waves, n-1)}
	}
	w := HashWave(hostname, n)
	return Placement{Wave: w, Name: r.Waves[w], By: fmt.Sprintf("FNV-1a 32 of hostname %q mod %d", hostname, n)}
}
