//go:build prometheus

package daemon

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/promserver"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// The gate against a real Prometheus takes half a minute (its scrapes, the
// waves' delays): it runs with the build tag prometheus, which
// scripts/test.sh passes.

// Two real daemons, a canary and a node of the next wave, pull one policy
// repository over git daemon; a real Prometheus scrapes both. A commit that
// the canary's Falco refuses is rolled back there, and the gate holds it on
// the next wave, which never writes it; the next good commit goes through
// both waves, the second one no sooner than its delay after the commit.
func TestRolloutGateHoldsWhatTheCanaryRolledBack(t *testing.T) {
	t.Parallel()
	// The bad commit's own rollout block gives it a longer delay: the
	// canary's rollback (a refused reload is known after 3 s) must be in
	// Prometheus before the next wave asks, on a loaded machine too.
	const delay, badDelay = 6 * time.Second, 20 * time.Second
	u := gitserve.NewUpstream(t)
	srv := gitserve.StartDaemon(t, u.Root)
	canaryPort, restPort := gitserve.FreePort(t), gitserve.FreePort(t)
	prom := promserver.Start(t, promserver.Options{Jobs: []promserver.Job{
		{Name: "rulekeeper", Targets: []string{"127.0.0.1:" + strconv.Itoa(canaryPort), "127.0.0.1:" + strconv.Itoa(restPort)}},
	}})
	c0 := u.Commit("the exam's output, in two waves", map[string]string{"policy.hcl": rolloutPolicy(t, prom.URL, "NEW SHELL!!!", "", delay)})
	canary := startFleetNode(t, "canary-1", srv.URL("policy.git"), fleetOpts{labels: `rulekeeper_wave = "canary"`, port: canaryPort, standin: true})
	rest := startFleetNode(t, "rest-1", srv.URL("policy.git"), fleetOpts{labels: `rulekeeper_wave = "rest"`, port: restPort, standin: true})
	// Nodes that have applied nothing take the head at once, whatever their wave.
	canary.waitApplied("NEW SHELL!!!", c0)
	rest.waitApplied("NEW SHELL!!!", c0)
	prom.WaitUp(t, 20*time.Second)
	before := rest.rules()

	// A commit Falco refuses: the canary applies it at once and rolls back.
	bad := u.Commit("an output field this Falco does not know", map[string]string{
		"policy.hcl": rolloutPolicy(t, prom.URL, "BAD SHELL!!! path=%fs.path.name", "0.44.1", badDelay)})
	badTime := commitTime(t, u)
	canary.hook.wait(t, 30*time.Second, "rollback", nil)
	testwait.Eventually(t, 10*time.Second, "the canary's /metrics does not name the rolled-back commit", func() bool {
		return strings.Contains(metricsText(t, canary.metrics), `rulekeeper_rollback_commit_info{commit="`+bad+`"} 1`)
	})
	// The next wave waits for its turn, then asks the gate, which holds.
	testwait.Eventually(t, 2*badDelay, "the rest wave does not hold the bad commit by its gate", func() bool {
		r := rest.rollout()
		return r != nil && r.Head == bad && r.State == "gate_held"
	})
	r := rest.rollout()
	if r.Wave != 1 || r.WaveName != "rest" || r.PlacedBy != "label rulekeeper_wave=rest" || r.Gate == nil || r.Gate.Value == nil || *r.Gate.Value != 1 ||
		!strings.Contains(r.Gate.Query, `commit="`+bad+`"`) || !r.ApplyAfter.Equal(badTime.Add(badDelay)) {
		t.Errorf("rest's rollout status: %+v gate %+v", r, r.Gate)
	}
	held := rest.hook.wait(t, 5*time.Second, "rollout", func(e hookEvent) bool { return e.f("state") == "gate_held" })
	if held.Priority != "Warning" || !strings.Contains(held.Output, "the gate holds it") {
		t.Errorf("gate alert: %s %q", held.Priority, held.Output)
	}
	if !strings.Contains(metricsText(t, rest.metrics), `rulekeeper_rollout_pending_info{commit="`+bad+`"} 1`) ||
		!strings.Contains(metricsText(t, rest.metrics), `rulekeeper_rollout_state{state="gate_held"} 1`) ||
		!strings.Contains(metricsText(t, rest.metrics), "rulekeeper_rollout_wave 1") {
		t.Errorf("rest's rollout metrics:\n%s", grepLines(metricsText(t, rest.metrics), "rulekeeper_rollout"))
	}
	// It keeps holding, poll after poll, told once; it never wrote the bad commit.
	polls := rest.d.Passes()
	testwait.Eventually(t, 10*time.Second, "the rest node stopped polling", func() bool { return rest.d.Passes() >= polls+5 })
	if got := rest.rules(); got != before {
		t.Fatal("the rest wave changed its rules file while the gate held the bad commit")
	}
	if n := len(rest.hook.events("rollback")) + len(rest.hook.events("applied")); n != 1 {
		t.Errorf("the rest node reported %d applied/rollback events, want 1 (the first commit):\n%s", n, rest.hook.dump())
	}
	if n := len(rest.hook.events("rollout")); n > 2 { // waiting, then held
		t.Errorf("%d rollout alerts, want the wait and the hold told once each:\n%s", n, rest.hook.dump())
	}
	if st := rest.status(); st.Commit != c0 {
		t.Errorf("rest runs %s, want %s", st.Commit, c0)
	}

	// A good commit on top: the canary applies it at once, the rest wave
	// after delay, the gate passing (no rollback of that commit).
	good := u.Commit("fix the output", map[string]string{"policy.hcl": rolloutPolicy(t, prom.URL, "FIXED SHELL!!!", "", delay)})
	goodTime := commitTime(t, u)
	canary.waitApplied("FIXED SHELL!!!", good)
	testwait.Eventually(t, 3*delay, "the rest wave did not apply the good commit", func() bool { return rest.has("FIXED SHELL!!!") })
	testwait.Eventually(t, 5*time.Second, "rest's status", func() bool {
		st := rest.status()
		r := st.Rollout
		return st.Commit == good && r != nil && r.Head == good && r.State == "applied" && r.Gate != nil && r.Gate.Value != nil && *r.Gate.Value == 0
	})
	if at := rest.status().AppliedAt; at.Before(goodTime.Add(delay)) {
		t.Errorf("the rest wave applied the good commit at %v, before its wave came at %v", at, goodTime.Add(delay))
	}
	if !strings.Contains(metricsText(t, rest.metrics), `rulekeeper_rollout_state{state="applied"} 1`) ||
		strings.Contains(metricsText(t, rest.metrics), "rulekeeper_rollout_pending_info{") {
		t.Errorf("rest's rollout metrics after applying:\n%s", grepLines(metricsText(t, rest.metrics), "rulekeeper_rollout"))
	}
}

func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
