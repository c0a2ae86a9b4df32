package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
)

func wavePolicy(t *testing.T, rollout string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte(rollout), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// `rulekeeper wave` prints the wave the agent computes: by label, else
// FNV-1a 32 of the hostname mod the number of waves (web-7: 1958196217,
// mod 3 = 1).
func TestWave(t *testing.T) {
	dir := wavePolicy(t, "rollout {\n  waves = [\"canary\", \"early\", \"rest\"]\n  delay = \"30m\"\n}\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--hostname", "web-7"}, "web-7: wave 1 (early) of 3, by FNV-1a 32 of hostname \"web-7\" mod 3\nIt applies a new head 30m0s after its commit time.\n"},
		{[]string{"--hostname", "web-7", "--label", "rulekeeper_wave=canary"}, "web-7: wave 0 (canary) of 3, by label rulekeeper_wave=canary\nIt is the canary wave"},
		{[]string{"--hostname", "web-7", "--label", "rulekeeper_wave=2"}, "web-7: wave 2 (rest) of 3, by label rulekeeper_wave=2\nIt applies a new head 1h0m0s after"},
	} {
		code, out, errs := rk(append([]string{"wave", "--policy", dir}, c.args...)...)
		if code != exitOK || !strings.HasPrefix(out, c.want) {
			t.Errorf("wave %v: exit %d\n%s%s\nwant %q", c.args, code, out, errs, c.want)
		}
	}
	code, out, errs := rk("wave", "--policy", dir, "--hostname", "web-7", "--label", "rulekeeper_wave=late")
	if code != exitOK || !strings.Contains(out, "wave 2 (rest)") || !strings.Contains(errs, "names no wave") {
		t.Errorf("a label naming no wave: exit %d\n%s%s", code, out, errs)
	}
	bad := wavePolicy(t, "rollout {\n  waves = 0\n}\n")
	code, out, errs = rk("wave", "--policy", bad, "--hostname", "web-7")
	if code != exitError || !strings.Contains(errs, "Invalid waves") || !strings.Contains(errs, "policy.hcl line 2") {
		t.Errorf("invalid rollout: exit %d\n%s%s", code, out, errs)
	}
	none := wavePolicy(t, "rule \"x\" {\n  priority = \"INFO\"\n}\n")
	if code, out, _ := rk("wave", "--policy", none); code != exitOK || !strings.Contains(out, "no rollout block") {
		t.Errorf("no rollout block: exit %d %s", code, out)
	}
}

// `rulekeeper status` shows the node's wave, the head it waits for, when
// its wave comes and why.
func TestStatusShowsRollout(t *testing.T) {
	state := t.TempDir()
	after := time.Now().Add(20 * time.Minute)
	st := &agent.Status{Source: "git://example/policy.git", Mode: "restore", Commit: "c0",
		Rollout: &agent.RolloutStatus{Wave: 2, WaveName: "rest", Waves: 3, PlacedBy: "FNV-1a 32 of hostname \"web-9\" mod 3",
			Head: "0123456789abcdef0123", State: "waiting", ApplyAfter: after, Reason: "wave 2 (rest) applies the head 1h0m0s after it began",
			Note: "the commit's trailer \"Rollout: immediate\" is ignored"}}
	if err := st.Write(state); err != nil {
		t.Fatal(err)
	}
	code, out, errs := rk("status", "--state-dir", state)
	for _, want := range []string{"Rollout:    wave 2 (rest) of 3, by FNV-1a 32 of hostname \"web-9\" mod 3",
		"head 0123456789ab: waiting, its wave comes " + after.Local().Format(time.RFC3339) + " (in ",
		"wave 2 (rest) applies the head", "note: the commit's trailer"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("status: exit %d, want %q in\n%s%s", code, want, out, errs)
		}
	}
}
