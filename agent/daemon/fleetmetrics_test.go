package daemon

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/alert"
	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// The fleet's metrics as a running daemon serves them: the converged gauge
// and the applied commit's committer time follow the node, drift put back
// counts as restored, the build is told, and the wave is -1 for a policy
// without a rollout block.
func TestFleetMetricsFollowTheNode(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	l := newLab(t, labOpts{interval: "1h", extra: fmt.Sprintf("metrics { listen = %q }\n", addr)})
	d, err := New(l.config(), Options{Root: l.root, Log: testLog(t), Version: "9.8.7"})
	if err != nil {
		t.Fatal(err)
	}
	l.startDaemon(d)
	l.waitConverged(10 * time.Second)
	m := metricsAt(addr)
	head := l.git("rev-parse", "HEAD")
	committed, _ := strconv.ParseFloat(l.git("log", "-1", "--format=%ct"), 64)
	m.wait(t, "rulekeeper_converged", nil, 1)
	m.wait(t, "rulekeeper_applied_commit_timestamp_seconds", []string{"commit", head}, committed)
	m.wait(t, "rulekeeper_build_info", []string{"version", "9.8.7", "goversion", runtime.Version()}, 1)
	m.wait(t, "rulekeeper_rollout_wave", nil, -1) // the policy has no rollout block

	// A new commit, made a second later: one series, the new commit's.
	time.Sleep(1100 * time.Millisecond)
	next := l.commit("note.hcl", "# a comment\n")
	l.d.Trigger()
	committed2, _ := strconv.ParseFloat(l.git("log", "-1", "--format=%ct"), 64)
	m.wait(t, "rulekeeper_applied_commit_timestamp_seconds", []string{"commit", next}, committed2)
	if n := m.series(t, "rulekeeper_applied_commit_timestamp_seconds"); n != 1 {
		t.Fatalf("%d series of the applied commit's time, want 1", n)
	}

	want := l.rules()
	l.writeRules("in place", replaceOnce(t, want, "NEW SHELL!!!", "OLD SHELL"))
	m.wait(t, "rulekeeper_drift_events_total", []string{"restored", "true"}, 1)
	m.wait(t, "rulekeeper_converged", nil, 1)
	if got := m.value(t, "rulekeeper_drift_events_total", "restored", "false"); got != 0 {
		t.Fatalf("drift left in place = %v in mode restore, want 0", got)
	}
}

// In drift mode alert, drift left in place counts as not restored and the
// node is not converged until someone puts the value back.
func TestFleetMetricsDriftLeftInPlace(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	l := newLab(t, labOpts{mode: agent.DriftAlert, interval: "100ms", extra: fmt.Sprintf("metrics { listen = %q }\n", addr)})
	l.start()
	l.waitConverged(10 * time.Second)
	m := metricsAt(addr)
	m.wait(t, "rulekeeper_converged", nil, 1)

	// Renamed into place: no pass ever sees half a file (a parse error
	// would make the node unconverged for another reason).
	want := l.rules()
	l.writeRules("rename", replaceOnce(t, want, "NEW SHELL!!!", "OLD SHELL"))
	m.wait(t, "rulekeeper_drift_events_total", []string{"restored", "false"}, 1)
	m.wait(t, "rulekeeper_converged", nil, 0)
	// A new commit meanwhile is not applied over the drift: the node
	// stays on the commit it converged to.
	head := l.git("rev-parse", "HEAD")
	next := l.commit("note.hcl", "# a comment\n")
	time.Sleep(500 * time.Millisecond) // five polls: still off the policy, still one event
	if got := m.value(t, "rulekeeper_converged"); got != 0 {
		t.Fatalf("converged = %v with the drift still there, want 0", got)
	}
	if got := m.value(t, "rulekeeper_drift_events_total", "restored", "false"); got != 1 {
		t.Fatalf("drift events = %v after five polls, want 1", got)
	}
	if _, ok := m.find("rulekeeper_applied_commit_info", []string{"commit", next}); ok {
		t.Fatal("the commit planned over the drift is exposed as applied")
	}
	m.value(t, "rulekeeper_applied_commit_info", "commit", head)
	m.value(t, "rulekeeper_applied_commit_timestamp_seconds", "commit", head)

	l.writeRules("rename", want)
	m.wait(t, "rulekeeper_converged", nil, 1)
	m.wait(t, "rulekeeper_applied_commit_info", []string{"commit", next}, 1)
	if got := m.value(t, "rulekeeper_drift_events_total", "restored", "true"); got != 0 {
		t.Fatalf("drift restored = %v in mode alert, want 0", got)
	}
}

// A commit Falco refuses: the reload is timed under its method, the
// rollback counted, and the node is not converged on the policy.
func TestFleetMetricsRollback(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	l := newLab(t, labOpts{local: true, interval: "1h", extra: fmt.Sprintf("metrics { listen = %q }\n", addr)})
	l.startWithStandin()
	l.hook.wait(t, 30*time.Second, "applied", nil)
	m := metricsAt(addr)
	m.wait(t, "rulekeeper_converged", nil, 1)
	m.wait(t, "rulekeeper_reload_duration_seconds", []string{"method", "signal"}, 1)
	if got := m.value(t, "rulekeeper_rollbacks_total"); got != 0 {
		t.Fatalf("rollbacks = %v before any, want 0", got)
	}
	if n := m.series(t, "rulekeeper_rollback_commit_info"); n != 0 {
		t.Fatalf("%d rulekeeper_rollback_commit_info series before any rollback, want 0", n)
	}
	// A local policy folder has no commit, so no commit time either.
	if n := m.series(t, "rulekeeper_applied_commit_timestamp_seconds"); n != 0 {
		t.Fatalf("%d commit time series with a local policy folder, want 0", n)
	}

	l.commit("policy.hcl", `falco {
  strategy      = "in_place"
  falco_version = "0.44.1"
}
rule "Terminal shell in container" {
  output {
    prefix = "NEW SHELL!!! path=%fs.path.name"
  }
}
`)
	l.d.Trigger()
	l.hook.wait(t, 30*time.Second, "rollback", nil)
	m.wait(t, "rulekeeper_rollbacks_total", nil, 1)
	m.wait(t, "rulekeeper_converged", nil, 0)
	// The rolled-back commit is named for the gates of later waves (a
	// local policy folder's is "").
	if n := m.series(t, "rulekeeper_rollback_commit_info"); n != 1 {
		t.Errorf("%d rulekeeper_rollback_commit_info series after a rollback, want 1", n)
	}
	// The refused reload and the one that put the files back are one
	// observation; each apply before it (the first, and one more when the
	// event of the first write came after the policy changed) another.
	applied := len(l.hook.events("applied"))
	if got := m.value(t, "rulekeeper_reload_duration_seconds", "method", "signal"); got != float64(applied+1) {
		t.Fatalf("%v signal reloads observed, want %d: %d applies and the rollback", got, applied+1, applied)
	}
	if sum := m.sum(t, "rulekeeper_reload_duration_seconds"); sum < 0.3 {
		t.Fatalf("reloads took %vs in all, less than the stand-in's settle time", sum)
	}
}

// The method label's fixed set is the agent's reload methods: none is
// counted as "other".
func TestReloadMethodLabels(t *testing.T) {
	t.Parallel()
	for _, m := range []initsys.Method{initsys.MethodWatch, initsys.MethodSystemd, initsys.MethodSysV, initsys.MethodSignal} {
		if !slices.Contains(alert.ReloadMethods, string(m)) {
			t.Errorf("reload method %q is not a value of rulekeeper_reload_duration_seconds{method}", m)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metricsAt reads a daemon's /metrics as Prometheus scrapes it.
type metricsAt string

func (m metricsAt) scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + string(m) + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// find is the value of the series of name whose labels include the pairs
// (a histogram's sample count); false when there is none.
func (m metricsAt) find(name string, labels []string) (float64, bool) {
	fams, err := m.scrape()
	if err != nil || fams[name] == nil {
		return 0, false
	}
	for _, s := range fams[name].Metric {
		have := map[string]string{}
		for _, l := range s.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case s.Counter != nil:
			return s.Counter.GetValue(), true
		case s.Gauge != nil:
			return s.Gauge.GetValue(), true
		case s.Histogram != nil:
			return float64(s.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func (m metricsAt) wait(t *testing.T, name string, labels []string, want float64) {
	t.Helper()
	testwait.Eventually(t, 15*time.Second, fmt.Sprintf("%s%v never became %v", name, labels, want), func() bool {
		v, ok := m.find(name, labels)
		return ok && v == want
	})
}

func (m metricsAt) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.find(name, labels)
	if !ok {
		t.Fatalf("%s%v not exposed", name, labels)
	}
	return v
}

func (m metricsAt) series(t *testing.T, name string) int {
	t.Helper()
	fams, err := m.scrape()
	if err != nil {
		t.Fatal(err)
	}
	if fams[name] == nil {
		return 0
	}
	return len(fams[name].Metric)
}

// sum is the sum of a histogram's observations over its series.
func (m metricsAt) sum(t *testing.T, name string) float64 {
	t.Helper()
	fams, err := m.scrape()
	if err != nil || fams[name] == nil {
		t.Fatalf("%s not exposed: %v", name, err)
	}
	var s float64
	for _, x := range fams[name].Metric {
		s += x.GetHistogram().GetSampleSum()
	}
	return s
}
