package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	commit      *prometheus.GaugeVec
	passes      *prometheus.CounterVec
	changes     prometheus.Counter
	drift       *prometheus.CounterVec
	tamper      prometheus.Counter
	errors      *prometheus.CounterVec
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	deliveries  *prometheus.CounterVec
	rollout     *rolloutMetrics
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rulekeeper_applied_commit_info",
			Help: "The policy commit applied on this node (value 1)."}, []string{"commit"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rulekeeper_passes_total",
			Help: "Reconcile passes, by result (success or error)."}, []string{"result"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: "rulekeeper_changes_total",
			Help: "Values changed in rule files by rulekeeper."}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rulekeeper_drift_events_total",
			Help: "Changes to policy-managed values made outside rulekeeper, by whether they were put back (restored=\"false\": drift mode alert)."},
			[]string{"restored"}),
		tamper: prometheus.NewCounter(prometheus.CounterOpts{Name: "rulekeeper_tamper_events_total",
			Help: "Changes to Falco rule files made outside rulekeeper, outside managed values."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rulekeeper_errors_total",
			Help: "Failed passes, by the kind of failure."}, []string{"kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rulekeeper_pass_duration_seconds",
			Help:    "Time a reconcile pass took.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rulekeeper_last_success_timestamp_seconds",
			Help: "Unix time of the last successful pass."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rulekeeper_webhook_deliveries_total",
			Help: "Webhook events by outcome: delivered, rejected (4xx), failed (retries exhausted), dropped (queue full)."},
			[]string{"result"}),
	}
	reg.MustRegister(m.commit, m.passes, m.changes, m.drift, m.tamper, m.errors, m.duration, m.lastSuccess, m.deliveries)
	m.rollout = newRolloutMetrics(reg)
	// Show the series at zero from the start, so rate() and alerts work before the first event.
	for _, r := range []string{"success", "error"} {
		m.passes.WithLabelValues(r)
	}
	for _, r := range []string{"delivered", "rejected", "failed", "dropped"} {
		m.deliveries.WithLabelValues(r)
	}
	for _, r := range []string{"true", "false"} {
		m.drift.WithLabelValues(r)
	}
	return m
}

// restored is the restored label of a drift event: "false" when its
// Fields say it was left in place (drift mode alert), else "true".
func restored(e Event) string {
	if e.Fields["restored"] == "false" {
		return "false"
	}
	return "true"
}

// KindError labels an error with the part of the pass that failed ("source", "policy", "reconcile",
// "reload", ...), the label of rulekeeper_errors_total.
type KindError struct {
	Kind string
	Err  error
}

func (e *KindError) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *KindError) Unwrap() error { return e.Err }

// WithKind labels err for rulekeeper_errors_total; nil stays nil.
func WithKind(kind string, err error) error {
	if err == nil {
		return nil
	}
	return &KindError{Kind: kind, Err: err}
}

type passRecord struct {
	at     time.Time
	err    error
	commit string
	ok     time.Time // last success
}

// ObservePass records a finished pass: its duration, how many values it changed, and on success the
// commit now applied. A failed pass counts in rulekeeper_errors_total under the kind WithKind gave
// its error ("other" without one); the applied commit stays the last good one.
func (a *Alerter) ObservePass(commit string, d time.Duration, changes int, err error) {
	a.m.duration.Observe(d.Seconds())
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last.at, a.last.err = now, err
	if err != nil {
		a.m.passes.WithLabelValues("error").Inc()
		kind := "other"
		if ke := (*KindError)(nil); errors.As(err, &ke) {
			kind = ke.Kind
		}
		a.m.errors.WithLabelValues(kind).Inc()
		return
	}
	a.m.passes.WithLabelValues("success").Inc()
	a.m.changes.Add(float64(max(changes, 0)))
	a.m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	a.last.ok = now
	if commit != "" && commit != a.last.commit {
		a.m.commit.Reset()
		a.m.commit.WithLabelValues(commit).Set(1)
		a.last.commit = commit
	}
}

// Handler serves "/metrics" (when Config.Metrics) and "/healthz": 200 while the last pass succeeded
// or the last success is younger than Config.HealthMaxAge (before the first pass: while the agent
// started less than that ago), else 503. Both answers are JSON saying why.
func (a *Alerter) Handler() http.Handler {
	mux := http.NewServeMux()
	if a.cfg.Metrics {
		mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/healthz", a.healthz)
	return mux
}

type health struct {
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
	Commit      string `json:"commit,omitempty"`
	LastPass    string `json:"last_pass,omitempty"`
	LastSuccess string `json:"last_success,omitempty"`
	LastError   string `json:"last_error,omitempty"`
}

func (a *Alerter) healthz(w http.ResponseWriter, _ *http.Request) {
	code, h := a.health()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}

func (a *Alerter) health() (int, health) {
	a.mu.Lock()
	last := a.last
	a.mu.Unlock()
	now := a.now()
	h := health{Status: "ok", Commit: last.commit}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	h.LastPass, h.LastSuccess = stamp(last.at), stamp(last.ok)
	if last.err != nil {
		h.LastError = last.err.Error()
	}
	bound := a.cfg.HealthMaxAge
	if !last.at.IsZero() && last.err == nil {
		return http.StatusOK, h
	}
	// Failing (or not done yet) but recently good, or recently started: do not flap.
	ref, since := last.ok, "last success"
	if ref.IsZero() {
		ref, since = a.started, "start"
	}
	age := now.Sub(ref).Round(time.Millisecond)
	what := "last pass failed"
	if last.at.IsZero() {
		what = "no pass finished yet"
	}
	if age <= bound {
		h.Reason = fmt.Sprintf("%s; %s %v ago is within %v", what, since, age, bound)
	} else {
		h.Status = "unhealthy"
		h.Reason = fmt.Sprintf("%s; %s %v ago is older than %v", what, since, age, bound)
	}
	if h.Status != "ok" {
		return http.StatusServiceUnavailable, h
	}
	return http.StatusOK, h
}
