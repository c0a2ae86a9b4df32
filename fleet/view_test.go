package fleet

import (
	"slices"
	"testing"
	"time"
)

// A node behind says why when its rollout does: waiting for its wave
// (and when it comes), paused, held by the gate; a node that has not
// reported a commit yet is not settled. The fleet's story ends with every
// rollout applied, so these states are built from samples here.
func TestBuildRolloutStates(t *testing.T) {
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	node := func(instance string, labels ...string) sample {
		l := map[string]string{"instance": instance}
		for i := 0; i+1 < len(labels); i += 2 {
			l[labels[i]] = labels[i+1]
		}
		return sample{Labels: l, Value: 1}
	}
	val := func(s sample, v float64) sample { s.Value = v; return s }
	names := []string{"a", "b", "c", "d", "e"}
	var up, info, when, conv, last, wave, state, waveAt []sample
	for i, n := range names {
		up = append(up, node(n))
		commit, ct := "new", 200.0
		if i > 0 && i < 4 {
			commit, ct = "old", 100
		}
		if n == "e" {
			continue // up, nothing else yet
		}
		info = append(info, node(n, "commit", commit))
		when = append(when, val(node(n, "commit", commit), ct))
		conv = append(conv, node(n))
		last = append(last, val(node(n), float64(at.Unix()-5)))
		wave = append(wave, val(node(n), float64(i)))
	}
	state = []sample{node("a", "state", "applied"), node("b", "state", "waiting"), node("c", "state", "paused"), node("d", "state", "gate_held")}
	waveAt = []sample{val(node("b"), float64(at.Add(10*time.Minute).Unix()))}
	v := build("http://p:9090", "rulekeeper", at, [][]sample{up, info, when, conv, last, nil, nil, nil, wave, state, waveAt})
	want := map[string][]string{
		"a": {},
		"b": {"behind (waiting for its wave, due 2026-11-30T08:10:00Z)"},
		"c": {"behind (the rollout is paused)"},
		"d": {"behind (the rollout gate holds the head)"},
		"e": {"no commit applied", "not converged", "last successful pass: never"},
	}
	for _, n := range v.Nodes {
		if !slices.Equal(n.Problems, want[n.Instance]) {
			t.Errorf("%s: %q, want %q", n.Instance, n.Problems, want[n.Instance])
		}
	}
	if v.Settled() || v.Newest != "new" || len(v.Commits) != 2 || v.Commits[0].Nodes != 1 || v.Commits[1].Nodes != 3 {
		t.Errorf("view: settled %v, newest %s, commits %+v", v.Settled(), v.Newest, v.Commits)
	}
	if w := v.Nodes[1].Wave; w == nil || *w != 1 {
		t.Errorf("b's wave: %v", w)
	}
}
