package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics over real HTTP and parses the exposition format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value finds the sample of family name whose labels include the given pairs.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s not exposed", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s%v not exposed", name, labels)
	return 0
}

func TestMetricsOverHTTP(t *testing.T) {
	a, _, _ := newTestAlerter(t, Config{Metrics: true})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	before := time.Now()
	a.ObservePass("aaa111", 12*time.Millisecond, 2, nil)
	a.ObservePass("bbb222", 3*time.Millisecond, 1, nil)
	a.ObservePass("ccc333", 40*time.Millisecond, 0, WithKind("source", errors.New("git fetch: connection refused")))
	a.ObservePass("", 1*time.Millisecond, 0, errors.New("unlabelled"))
	a.Emit(context.Background(), Event{Kind: Drift})
	a.Emit(context.Background(), Event{Kind: Drift, Fields: map[string]string{"restored": "true"}})
	a.Emit(context.Background(), Event{Kind: Drift, Fields: map[string]string{"restored": "false"}})
	a.Emit(context.Background(), Event{Kind: Tamper})

	fams := scrape(t, srv.URL)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"rulekeeper_applied_commit_info", []string{"commit", "bbb222"}, 1},
		{"rulekeeper_passes_total", []string{"result", "success"}, 2},
		{"rulekeeper_passes_total", []string{"result", "error"}, 2},
		{"rulekeeper_changes_total", nil, 3},
		{"rulekeeper_drift_events_total", []string{"restored", "true"}, 2},
		{"rulekeeper_drift_events_total", []string{"restored", "false"}, 1},
		{"rulekeeper_tamper_events_total", nil, 1},
		{"rulekeeper_errors_total", []string{"kind", "source"}, 1},
		{"rulekeeper_errors_total", []string{"kind", "other"}, 1},
		{"rulekeeper_pass_duration_seconds", nil, 4},
		{"rulekeeper_webhook_deliveries_total", []string{"result", "dropped"}, 0},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Only the commit now applied is exposed; a failed pass's commit never is.
	if n := len(fams["rulekeeper_applied_commit_info"].Metric); n != 1 {
		t.Errorf("%d applied_commit_info series, want 1", n)
	}
	last := value(t, fams, "rulekeeper_last_success_timestamp_seconds")
	if last < float64(before.Unix())-1 || last > float64(time.Now().Unix())+1 {
		t.Errorf("last success %v not near now", last)
	}
	if h := fams["rulekeeper_pass_duration_seconds"].Metric[0].Histogram; h.GetSampleSum() < 0.055 || h.GetSampleSum() > 0.057 {
		t.Errorf("duration sum %v, want 0.056", h.GetSampleSum())
	}
}

func TestMetricsOff(t *testing.T) {
	a, _, _ := newTestAlerter(t, Config{})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics with metrics off: HTTP %d, want 404", resp.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	a, _, _ := newTestAlerter(t, Config{HealthMaxAge: time.Minute})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	clock := time.Now()
	a.now = func() time.Time { return clock }
	a.started = clock

	get := func() (int, health) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var h health
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatalf("/healthz body %q: %v", b, err)
		}
		return resp.StatusCode, h
	}
	steps := []struct {
		name   string
		do     func()
		code   int
		reason string
	}{
		{"just started", func() {}, 200, "no pass finished yet"},
		{"never finished a pass", func() { clock = clock.Add(2 * time.Minute) }, 503, "no pass finished yet; start 2m0s ago is older than 1m0s"},
		{"first pass fails", func() { a.ObservePass("c1", time.Millisecond, 0, errors.New("policy: bad.hcl:3")) }, 503, "last pass failed; start"},
		{"a pass succeeds", func() { a.ObservePass("c1", time.Millisecond, 1, nil) }, 200, ""},
		{"a failure soon after", func() {
			clock = clock.Add(30 * time.Second)
			a.ObservePass("c2", time.Millisecond, 0, errors.New("git: unreachable"))
		}, 200, "last pass failed; last success 30s ago is within 1m0s"},
		{"still failing past the bound", func() {
			clock = clock.Add(time.Minute)
			a.ObservePass("c2", time.Millisecond, 0, errors.New("git: unreachable"))
		}, 503, "last pass failed; last success 1m30s ago is older than 1m0s"},
		{"recovered", func() { a.ObservePass("c2", time.Millisecond, 0, nil) }, 200, ""},
	}
	for _, s := range steps {
		s.do()
		code, h := get()
		if code != s.code || !strings.Contains(h.Reason, s.reason) {
			t.Fatalf("%s: HTTP %d %+v, want %d with reason containing %q", s.name, code, h, s.code, s.reason)
		}
		if code == 503 && (h.Status != "unhealthy" || h.Reason == "") {
			t.Errorf("%s: 503 without a reason: %+v", s.name, h)
		}
	}
	if _, h := get(); h.Commit != "c2" || h.LastError != "" {
		t.Errorf("after recovery: %+v", h)
	}
}

func TestEmitLogsOneLineWithAllFields(t *testing.T) {
	a, logs, _ := newTestAlerter(t, Config{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	e := driftEvent
	e.Time, e.Diff = at, "--- a\n+++ b\n"
	a.Emit(context.Background(), e)
	lines := logs.lines(`"kind":"drift"`)
	if len(lines) != 1 {
		t.Fatalf("want one log line, got %q", lines)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"level": "WARN", "msg": e.Message, "kind": "drift", "priority": "Warning",
		"rule": e.Rule, "file": e.File, "commit": e.Commit, "old": e.Old, "new": e.New, "diff": e.Diff, "mode": "restore"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("log field %q = %v, want %v", k, got[k], v)
		}
	}
}
