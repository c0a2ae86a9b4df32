package alert

import (
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestNodeMetricsOverHTTP(t *testing.T) {
	a, _, _ := newTestAlerter(t, Config{Metrics: true, Version: "1.2.3"})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	// Before any pass: built, not converged, no commit, no reload yet.
	fams := scrape(t, srv.URL)
	if got := value(t, fams, "rulekeeper_build_info", "version", "1.2.3", "goversion", runtime.Version()); got != 1 {
		t.Errorf("build_info = %v, want 1", got)
	}
	if got := value(t, fams, "rulekeeper_converged"); got != 0 {
		t.Errorf("converged before any pass = %v, want 0", got)
	}
	if got := value(t, fams, "rulekeeper_rollbacks_total"); got != 0 {
		t.Errorf("rollbacks before any = %v, want 0", got)
	}
	if f := fams["rulekeeper_applied_commit_timestamp_seconds"]; f != nil && len(f.Metric) > 0 {
		t.Errorf("a commit time before any pass: %v", f.Metric)
	}

	t1 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	a.ObserveNode(true, "aaa111", t1)
	a.ObserveNode(true, "bbb222", t2)
	a.ObserveReload("systemd", 1500*time.Millisecond, false)
	a.ObserveReload("systemd", 2*time.Second, true)
	a.ObserveReload("watch", 200*time.Millisecond, false)
	a.ObserveReload("a value from nowhere", time.Second, false)

	fams = scrape(t, srv.URL)
	if got := value(t, fams, "rulekeeper_converged"); got != 1 {
		t.Errorf("converged = %v, want 1", got)
	}
	// One series: the commit applied now, valued at its committer time.
	if f := fams["rulekeeper_applied_commit_timestamp_seconds"]; len(f.Metric) != 1 {
		t.Errorf("%d commit time series, want 1", len(f.Metric))
	}
	if got := value(t, fams, "rulekeeper_applied_commit_timestamp_seconds", "commit", "bbb222"); got != float64(t2.Unix()) {
		t.Errorf("commit time = %v, want %v", got, t2.Unix())
	}
	if got := value(t, fams, "rulekeeper_rollbacks_total"); got != 1 {
		t.Errorf("rollbacks = %v, want 1", got)
	}
	for method, want := range map[string]float64{"systemd": 2, "watch": 1, "other": 1} {
		if got := value(t, fams, "rulekeeper_reload_duration_seconds", "method", method); got != want {
			t.Errorf("reloads by %s = %v, want %v", method, got, want)
		}
	}
	// The method label takes only the fixed values: bounded, whatever a caller passes.
	for _, m := range fams["rulekeeper_reload_duration_seconds"].Metric {
		for _, l := range m.Label {
			if v := l.GetValue(); l.GetName() == "method" && v != "other" && !slices.Contains(ReloadMethods, v) {
				t.Errorf("method label %q outside the fixed set", v)
			}
		}
	}
	if h := histogram(t, fams, "rulekeeper_reload_duration_seconds", "systemd"); h < 3.49 || h > 3.51 {
		t.Errorf("systemd reload seconds sum %v, want 3.5", h)
	}

	// A failed pass: not converged; the commit the files are at stays. A
	// local policy folder (no commit time) has no series at all.
	a.ObserveNode(false, "bbb222", t2)
	fams = scrape(t, srv.URL)
	if got := value(t, fams, "rulekeeper_converged"); got != 0 {
		t.Errorf("converged after a failed pass = %v, want 0", got)
	}
	value(t, fams, "rulekeeper_applied_commit_timestamp_seconds", "commit", "bbb222")
	a.ObserveNode(true, "", time.Time{})
	fams = scrape(t, srv.URL)
	if f := fams["rulekeeper_applied_commit_timestamp_seconds"]; f != nil && len(f.Metric) > 0 {
		t.Errorf("a commit time without a known commit time: %v", f.Metric)
	}
}

func TestBuildInfoUnknownVersion(t *testing.T) {
	a, _, _ := newTestAlerter(t, Config{Metrics: true})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	if got := value(t, scrape(t, srv.URL), "rulekeeper_build_info", "version", "unknown"); got != 1 {
		t.Errorf("build_info{version=unknown} = %v, want 1", got)
	}
}

// histogram is the sum of the observations of a histogram by method.
func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name, method string) float64 {
	t.Helper()
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "method" && l.GetValue() == method {
				return m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Fatalf("%s{method=%q} not exposed", name, method)
	return 0
}
