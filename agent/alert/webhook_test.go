package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// sidekickPayload decodes a request the way Falcosidekick's input does, and sidekickCheck applies its
// acceptance rule (priority, rule, time and at least one output field), answering 400 otherwise.
type sidekickPayload struct {
	UUID         string         `json:"uuid,omitempty"`
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Time         time.Time      `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags,omitempty"`
	Hostname     string         `json:"hostname,omitempty"`
}

func sidekickCheck(p sidekickPayload) bool {
	return syslogPriority(p.Priority) >= 0 && p.Rule != "" && !p.Time.IsZero() && len(p.OutputFields) > 0
}

// receiver is a real HTTP server on 127.0.0.1 answering with the given status codes in turn (the last
// one repeats), recording what it accepted.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	codes    []int
	hits     int
	accepted []sidekickPayload
	uuids    []string
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p sidekickPayload
		err := json.NewDecoder(req.Body).Decode(&p)
		r.mu.Lock()
		defer r.mu.Unlock()
		code := r.codes[min(r.hits, len(r.codes)-1)]
		r.hits++
		r.uuids = append(r.uuids, p.UUID)
		if err != nil || !sidekickCheck(p) || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "Please send a valid request body", http.StatusBadRequest)
			return
		}
		if code == http.StatusOK {
			r.accepted = append(r.accepted, p)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines(substr string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func newTestAlerter(t *testing.T, cfg Config) (*Alerter, *logBuffer, *prometheus.Registry) {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	a := New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), reg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	return a, logs, reg
}

// closeAndCount waits for the queue to drain and returns the delivery counters.
func closeAndCount(t *testing.T, a *Alerter) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out := map[string]float64{}
	for _, r := range []string{"delivered", "rejected", "failed", "dropped"} {
		out[r] = testutil.ToFloat64(a.m.deliveries.WithLabelValues(r))
	}
	return out
}

var driftEvent = Event{
	Kind: Drift, Rule: "Terminal shell in container", File: "/etc/falco/falco_rules.yaml", Commit: "0123abc",
	Old: "NEW SHELL!!! user_id=%user.uid", New: "A shell was spawned", Message: "managed value changed outside rulekeeper",
	Fields: map[string]string{"mode": "restore"},
}

func TestWebhookFailsTwiceThenAccepts(t *testing.T) {
	r := newReceiver(t, 503, 502, 200)
	a, logs, _ := newTestAlerter(t, Config{WebhookURL: r.srv.URL, WebhookBackoff: 5 * time.Millisecond,
		Hostname: "node-1", Tags: []string{"fleet"}})
	a.Emit(context.Background(), driftEvent)
	got := closeAndCount(t, a)
	if got["delivered"] != 1 || got["failed"] != 0 || r.count() != 3 {
		t.Fatalf("deliveries %v after %d requests, want 1 delivered after 3", got, r.count())
	}
	if r.uuids[0] == "" || r.uuids[0] != r.uuids[1] || r.uuids[1] != r.uuids[2] {
		t.Errorf("retries should carry the same uuid, got %q", r.uuids)
	}
	p := r.accepted[0]
	if p.Priority != "Warning" || p.Rule != "rulekeeper drift" || p.Source != "rulekeeper" || p.Hostname != "node-1" {
		t.Errorf("payload header %+v", p)
	}
	if !strings.Contains(p.Output, "Warning managed value changed outside rulekeeper (rule=Terminal shell in container file=/etc/falco/falco_rules.yaml commit=0123abc)") {
		t.Errorf("output %q", p.Output)
	}
	want := map[string]any{"rulekeeper.kind": "drift", "rulekeeper.rule": "Terminal shell in container",
		"rulekeeper.file": "/etc/falco/falco_rules.yaml", "rulekeeper.commit": "0123abc",
		"rulekeeper.old": "NEW SHELL!!! user_id=%user.uid", "rulekeeper.new": "A shell was spawned", "rulekeeper.mode": "restore"}
	for k, v := range want {
		if p.OutputFields[k] != v {
			t.Errorf("output_fields[%q] = %v, want %v", k, p.OutputFields[k], v)
		}
	}
	if strings.Join(p.Tags, ",") != "rulekeeper,drift,fleet" {
		t.Errorf("tags %q", p.Tags)
	}
	if n := len(logs.lines("webhook delivery failed")); n != 0 {
		t.Errorf("%d failure lines logged for a delivered alert", n)
	}
}

func TestWebhookDown(t *testing.T) {
	// A port that was just free: nothing listens, connections are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a, logs, _ := newTestAlerter(t, Config{WebhookURL: "http://user:s3cret@" + addr + "/hook/T0KEN",
		WebhookRetries: 2, WebhookBackoff: 5 * time.Millisecond})
	a.Emit(context.Background(), Event{Kind: Tamper, File: "/etc/falco/falco_rules.yaml", Diff: "-a\n+b\n"})
	got := closeAndCount(t, a)
	if got["failed"] != 1 || got["delivered"] != 0 {
		t.Fatalf("deliveries %v, want 1 failed", got)
	}
	failed := logs.lines("webhook delivery failed")
	if len(failed) != 1 || !strings.Contains(failed[0], `"attempts":3`) {
		t.Fatalf("want one failure line after 3 attempts, got %q", failed)
	}
	if all := logs.lines(""); strings.Contains(strings.Join(all, "\n"), "s3cret") || strings.Contains(strings.Join(all, "\n"), "T0KEN") {
		t.Errorf("the webhook's secret reached the log: %q", all)
	}
}

func TestWebhookRetriesThrottlingAndServerErrors(t *testing.T) {
	// Falcosidekick and chat services answer 429 when throttled and 5xx when
	// down for a moment: both are retried, with the same UUID each time.
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			r := newReceiver(t, code, code, http.StatusOK)
			a, _, _ := newTestAlerter(t, Config{WebhookURL: r.srv.URL, WebhookRetries: 3, WebhookBackoff: 5 * time.Millisecond})
			a.Emit(context.Background(), driftEvent)
			got := closeAndCount(t, a)
			if got["delivered"] != 1 || r.count() != 3 {
				t.Fatalf("deliveries %v after %d requests, want 1 delivered on the third", got, r.count())
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.uuids[0] == "" || r.uuids[0] != r.uuids[1] || r.uuids[1] != r.uuids[2] {
				t.Errorf("uuids %q: a retry must repeat the alert's UUID", r.uuids)
			}
		})
	}
}

func TestWebhookRejected(t *testing.T) {
	r := newReceiver(t, 400)
	a, logs, _ := newTestAlerter(t, Config{WebhookURL: r.srv.URL, WebhookBackoff: 5 * time.Millisecond})
	a.Emit(context.Background(), Event{Kind: Applied, Commit: "abc"})
	got := closeAndCount(t, a)
	if got["rejected"] != 1 || r.count() != 1 {
		t.Fatalf("deliveries %v after %d requests, want 1 rejected after 1 (no retry on 4xx)", got, r.count())
	}
	if l := logs.lines("webhook rejected"); len(l) != 1 || !strings.Contains(l[0], `"status":400`) {
		t.Errorf("rejection log %q", l)
	}
}

func TestPayloadPassesSidekickCheckForEveryKind(t *testing.T) {
	r := newReceiver(t, 200)
	a, _, _ := newTestAlerter(t, Config{WebhookURL: r.srv.URL})
	kinds := []Kind{Applied, Drift, Tamper, Refused, Rollback, Error, Reload, Rollout}
	for _, k := range kinds {
		a.Emit(context.Background(), Event{Kind: k}) // the barest event still makes a valid payload
	}
	if got := closeAndCount(t, a); got["delivered"] != float64(len(kinds)) {
		t.Fatalf("deliveries %v, want %d delivered", got, len(kinds))
	}
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
		served.Add(1)
	}))
	defer srv.Close()
	a, logs, _ := newTestAlerter(t, Config{WebhookURL: srv.URL, WebhookQueue: 2})

	a.Emit(context.Background(), driftEvent)
	select {
	case <-arrived: // the first alert is in flight, the queue is empty
	case <-time.After(5 * time.Second):
		t.Fatal("the receiver never got the first alert")
	}
	start := time.Now()
	for range 9 {
		a.Emit(context.Background(), driftEvent)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("9 Emits took %v with the receiver stuck", d)
	}
	close(release)
	got := closeAndCount(t, a)
	if got["dropped"] != 7 || got["delivered"] != 3 {
		t.Fatalf("deliveries %v, want 3 delivered (1 in flight + 2 queued) and 7 dropped", got)
	}
	if n := len(logs.lines("webhook queue full")); n != 1 {
		t.Errorf("%d queue-full lines, want one however many are dropped", n)
	}
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	a, _, _ := newTestAlerter(t, Config{WebhookURL: srv.URL})
	a.Emit(context.Background(), driftEvent)
	a.Emit(context.Background(), driftEvent)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := a.Close(ctx); err == nil {
		t.Fatal("Close returned nil with alerts undelivered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v past a 50ms deadline", d)
	}
}
