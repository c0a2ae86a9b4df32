package rollout

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/policy"
)

func rollout(waves int, delay time.Duration) *policy.Rollout {
	r := &policy.Rollout{Delay: delay, WaveLabel: policy.DefaultWaveLabel}
	for i := range waves {
		r.Waves = append(r.Waves, fmt.Sprint(i))
	}
	return r
}

// The hash places 10,000 hostnames of the fleet naming schemes seen most
// evenly: each wave within 5 % of its share for 2 to 5 waves, within 10 %
// for 10 (a wave of 1,000 hosts: an ideal random placement strays by 3 %
// at one standard deviation).
func TestHashWaveBalanced(t *testing.T) {
	patterns := []func(i int) string{
		func(i int) string { return fmt.Sprintf("node-%04d.eu-west-1.example.com", i) },
		func(i int) string { return fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/100, i%100) },
		func(i int) string { return fmt.Sprintf("worker%d", i) },
	}
	for pi, name := range patterns {
		for _, n := range []int{2, 3, 4, 5, 10} {
			count := make([]int, n)
			const hosts = 10000
			for i := range hosts {
				count[HashWave(name(i), n)]++
			}
			share, tol := float64(hosts)/float64(n), 0.05
			if n == 10 {
				tol = 0.10
			}
			for w, c := range count {
				if math.Abs(float64(c)-share)/share > tol {
					t.Errorf("pattern %d (%s...), %d waves: wave %d has %d of %d hosts, more than %.0f%% off %.0f: %v",
						pi, name(0), n, w, c, hosts, tol*100, share, count)
				}
			}
		}
	}
}

// The documented formula, worked by hand for one host: an operator can
// predict a node's wave without rulekeeper.
func TestHashWaveIsFNV1a32(t *testing.T) {
	// FNV-1a 32 of "a": (0x811c9dc5 ^ 0x61) * 0x01000193 mod 2^32 = 0xe40c292c.
	if got, want := HashWave("a", 1000), int(uint32(0xe40c292c)%1000); got != want {
		t.Fatalf("HashWave(a, 1000) = %d, want %d", got, want)
	}
	// And for a longer name, against the bytes hashed one by one.
	h := uint32(0x811c9dc5)
	for _, b := range []byte("web-7") {
		h = (h ^ uint32(b)) * 0x01000193
	}
	if h != 1958196217 || HashWave("web-7", 3) != 1 {
		t.Fatalf("FNV-1a 32 of web-7 = %d, HashWave = %d; want 1958196217 and 1", h, HashWave("web-7", 3))
	}
}

func TestPlace(t *testing.T) {
	r := rollout(3, time.Hour)
	r.Waves = []string{"canary", "early", "rest"}
	cases := []struct {
		labels  map[string]string
		wave    int
		by      string
		warning bool
	}{
		{map[string]string{"rulekeeper_wave": "canary"}, 0, "label rulekeeper_wave=canary", false},
		{map[string]string{"rulekeeper_wave": "1"}, 1, "label rulekeeper_wave=1", false},
		{map[string]string{"rulekeeper_wave": "rest"}, 2, "label rulekeeper_wave=rest", false},
		{map[string]string{"rulekeeper_wave": "Canary"}, 2, "label", true}, // names match exactly
		{map[string]string{"rulekeeper_wave": "3"}, 2, "label", true},
		{map[string]string{"rulekeeper_wave": "-1"}, 2, "label", true},
		{map[string]string{"other": "canary"}, HashWave("web-7", 3), "FNV-1a 32 of hostname \"web-7\" mod 3", false},
	}
	for _, c := range cases {
		p := Place(r, "web-7", c.labels)
		if p.Wave != c.wave || !strings.HasPrefix(p.By, c.by) || (p.Warning != "") != c.warning || p.Name != r.Waves[p.Wave] {
			t.Errorf("labels %v: got %+v, want wave %d by %q warning %v", c.labels, p, c.wave, c.by, c.warning)
		}
	}
	r.WaveLabel = "zone/wave"
	if p := Place(r, "web-7", map[string]string{"zone/wave": "early", "rulekeeper_wave": "canary"}); p.Wave != 1 {
		t.Errorf("a configured wave_label is the one read: got %+v", p)
	}
}

func TestDecide(t *testing.T) {
	commitTime := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	r := rollout(4, 10*time.Minute)
	wave := func(k int) Placement { return Placement{Wave: k, Name: fmt.Sprint(k)} }
	head := Head{Commit: "c1", Time: commitTime, FirstSeen: commitTime.Add(time.Minute)}

	t.Run("each wave at k × delay from the commit time", func(t *testing.T) {
		for k := range 4 {
			due := commitTime.Add(time.Duration(k) * 10 * time.Minute)
			if d := Decide(r, wave(k), head, due.Add(-time.Second)); k > 0 && d.State != StateWaiting {
				t.Errorf("wave %d a second before %v: %+v", k, due, d)
			}
			if d := Decide(r, wave(k), head, due); !d.Apply() {
				t.Errorf("wave %d at %v: %+v", k, due, d)
			} else if k > 0 && !d.ApplyAfter.Equal(due) {
				t.Errorf("wave %d: apply after %v, want %v", k, d.ApplyAfter, due)
			}
		}
	})
	t.Run("a commit dated in the future waits from when the node first saw it", func(t *testing.T) {
		seen := commitTime
		future := Head{Commit: "c2", Time: seen.Add(24 * time.Hour), FirstSeen: seen}
		d := Decide(r, wave(2), future, seen.Add(19*time.Minute))
		if d.State != StateWaiting || !d.Start.Equal(seen) || !d.ApplyAfter.Equal(seen.Add(20*time.Minute)) {
			t.Errorf("got %+v, want waiting until %v", d, seen.Add(20*time.Minute))
		}
		if d := Decide(r, wave(2), future, seen.Add(20*time.Minute)); !d.Apply() {
			t.Errorf("after 2 × delay from first seen: %+v", d)
		}
	})
	t.Run("without a commit time, from first seen", func(t *testing.T) {
		h := Head{Commit: "c3", FirstSeen: commitTime}
		if d := Decide(r, wave(1), h, commitTime.Add(9*time.Minute)); d.State != StateWaiting {
			t.Errorf("got %+v", d)
		}
	})
	t.Run("paused holds every wave but the first", func(t *testing.T) {
		p := *r
		p.Paused = true
		late := commitTime.Add(1000 * time.Hour)
		if d := Decide(&p, wave(0), head, commitTime); !d.Apply() {
			t.Errorf("wave 0 paused: %+v", d)
		}
		for k := 1; k < 4; k++ {
			if d := Decide(&p, wave(k), head, late); d.State != StatePaused || !d.ApplyAfter.IsZero() {
				t.Errorf("wave %d paused: %+v", k, d)
			}
		}
	})
	t.Run("the gate is asked once the wave has come, never by the canary", func(t *testing.T) {
		g := *r
		g.Gate = &policy.Gate{Query: "up", OnError: policy.GateHold}
		if d := Decide(&g, wave(0), head, commitTime); d.State != StateApply {
			t.Errorf("wave 0: %+v", d)
		}
		if d := Decide(&g, wave(1), head, commitTime.Add(5*time.Minute)); d.State != StateWaiting {
			t.Errorf("wave 1 early: %+v", d)
		}
		if d := Decide(&g, wave(1), head, commitTime.Add(10*time.Minute)); d.State != StateGate {
			t.Errorf("wave 1 due: %+v", d)
		}
	})
	t.Run("trailer Rollout: immediate with and without verification", func(t *testing.T) {
		urgent := head
		urgent.Message = "Fix the shell rule\n\nIt printed nothing.\n\nRollout: immediate\nSigned-off-by: Ops <ops@example.com>\n"
		p := *r
		p.Paused = true
		p.Gate = &policy.Gate{Query: "up"}
		urgent.Verified = true
		if d := Decide(&p, wave(3), urgent, commitTime); !d.Apply() || d.Note != "" {
			t.Errorf("verified: %+v", d)
		}
		urgent.Verified = false
		d := Decide(r, wave(3), urgent, commitTime)
		if d.State != StateWaiting || !strings.Contains(d.Note, "ignored") || !strings.Contains(d.Note, "verify") {
			t.Errorf("unverified: %+v", d)
		}
	})
	t.Run("no rollout block: at once", func(t *testing.T) {
		if d := Decide(nil, Placement{}, head, commitTime); !d.Apply() {
			t.Errorf("got %+v", d)
		}
	})
}

// A node never applies a commit that is no longer the head: the decision
// is about the head it is given, and a new head starts from its own time.
func TestHeadChangedBetweenWaves(t *testing.T) {
	r := rollout(3, 10*time.Minute)
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	bad := Head{Commit: "bad", Time: t0, FirstSeen: t0}
	revert := Head{Commit: "revert", Time: t0.Add(5 * time.Minute), FirstSeen: t0.Add(5 * time.Minute)}
	p := Placement{Wave: 1, Name: "1"}
	// At t0+10m wave 1 would have applied "bad"; the head is now the revert,
	// which wave 1 applies only at t0+15m.
	d := Decide(r, p, revert, t0.Add(10*time.Minute))
	if d.State != StateWaiting || !d.ApplyAfter.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("got %+v", d)
	}
	if d := Decide(r, p, bad, t0.Add(10*time.Minute)); !d.Apply() {
		t.Fatalf("had it stayed the head: %+v", d)
	}
}

func TestImmediate(t *testing.T) {
	for msg, want := range map[string]bool{
		"x\n\nRollout: immediate":                       true,
		"x\n\nbody\n\nrollout:   Immediate  \n":         true,
		"x\n\nSigned-off-by: a\nRollout: immediate\n":   true,
		"Rollout: immediate":                            false, // a subject is not a trailer
		"x\n\nRollout: immediate\n\nmore text after it": false,
		"x\n\nRollout: later":                           false,
		"x\n\nRollout immediate":                        false,
		"x\r\n\r\nRollout: immediate\r\n":               true,
	} {
		if got := Immediate(msg); got != want {
			t.Errorf("Immediate(%q) = %v, want %v", msg, got, want)
		}
	}
}
