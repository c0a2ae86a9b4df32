// Package alert is the one place every rulekeeper event goes. Each event becomes a structured log
// line (journald fields under systemd), moves the Prometheus metrics, and, when a webhook is
// configured, is posted in the JSON shape Falcosidekick accepts, so drift and tampering reach the
// channels Falco's own alerts use.
package alert

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kind says what happened.
type Kind string

const (
	Applied  Kind = "applied"  // a pass changed files on the node
	Drift    Kind = "drift"    // a value the policy manages was changed outside rulekeeper; Fields["restored"] "false": left in place
	Tamper   Kind = "tamper"   // a rule file changed elsewhere, not by rulekeeper
	Refused  Kind = "refused"  // a commit or policy was not applied (bad signature, invalid policy)
	Rollback Kind = "rollback" // Falco did not come back after a reload; the previous files were restored
	Error    Kind = "error"    // a pass or a part of the agent failed
	Reload   Kind = "reload"   // Falco was reloaded
	Rollout  Kind = "rollout"  // the node holds a new commit for its wave, or its gate
)

// Event is one thing worth telling operators about. Empty fields are left out everywhere.
type Event struct {
	Kind     Kind
	Time     time.Time // zero: now
	Priority string    // a Falco priority; empty: the kind's default (see DefaultPriority)
	Rule     string    // the Falco rule concerned
	File     string    // the rule file concerned
	Commit   string    // the policy commit applied or refused
	Old, New string    // the value before and after
	Diff     string    // a unified diff of the file
	Message  string    // one human sentence; empty: "rulekeeper <kind>"
	Fields   map[string]string
}

// DefaultPriority is the Falco priority an event of this kind carries unless it says otherwise.
func DefaultPriority(k Kind) string {
	switch k {
	case Applied:
		return "Notice"
	case Drift:
		return "Warning"
	case Tamper, Rollback:
		return "Critical"
	case Refused, Error:
		return "Error"
	default:
		return "Informational"
	}
}

// Config says where events go besides the log.
type Config struct {
	// WebhookURL receives each event as a Falcosidekick-style JSON POST; empty: no webhook.
	WebhookURL     string
	WebhookHeaders map[string]string // e.g. an Authorization header; never logged
	WebhookRetries int               // retries after the first attempt on 5xx, 429 or a connection error; default 3
	WebhookQueue   int               // events waiting for delivery before new ones are dropped; default 256
	WebhookTimeout time.Duration     // per attempt; default 5s
	WebhookBackoff time.Duration     // first retry delay, doubled each retry up to 30s; default 500ms
	Hostname       string            // default os.Hostname()
	Version        string            // rulekeeper's version, for rulekeeper_build_info; default "unknown"
	Tags           []string          // added to every webhook payload's tags

	// Metrics serves /metrics from Handler; the metrics are kept either way.
	Metrics bool
	// HealthMaxAge is how long after the last successful pass /healthz still answers 200 while
	// passes fail (and, before the first pass, how long after start); default 5m.
	HealthMaxAge time.Duration
}

// Alerter fans events out to the log, the metrics and the webhook.
type Alerter struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	m       *metrics
	n       *nodeMetrics
	hook    *webhook // nil without a webhook
	now     func() time.Time
	started time.Time

	mu   sync.Mutex
	last passRecord
}

// New makes an Alerter. reg may be nil (a fresh registry is used); the metrics are registered on it.
// With a webhook configured, a delivery goroutine runs until Close.
func New(cfg Config, log *slog.Logger, reg *prometheus.Registry) *Alerter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.HealthMaxAge <= 0 {
		cfg.HealthMaxAge = 5 * time.Minute
	}
	a := &Alerter{cfg: cfg, log: log, reg: reg, m: newMetrics(reg), now: time.Now}
	a.n = newNodeMetrics(reg, cfg.Version)
	a.started = a.now()
	if cfg.WebhookURL != "" {
		a.hook = newWebhook(cfg, log, a.m)
	}
	return a
}

// Emit records one event, its texts bounded (see MaxDiffLines): a log line, the metrics, and a webhook delivery queued in the background.
// It does not wait for the webhook; when the queue is full the event is dropped from the webhook
// (counted in rulekeeper_webhook_deliveries_total{result="dropped"}) but still logged. Drift and
// tamper events move their counters; failed passes are counted by ObservePass, not by error events.
func (a *Alerter) Emit(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	if e.Priority == "" {
		e.Priority = DefaultPriority(e.Kind)
	}
	if e.Message == "" {
		e.Message = "rulekeeper " + string(e.Kind)
	}
	e = bound(e)
	a.log.LogAttrs(ctx, slogLevel(e.Priority), e.Message, eventAttrs(e)...)
	switch e.Kind {
	case Drift:
		a.m.drift.WithLabelValues(restored(e)).Inc()
	case Tamper:
		a.m.tamper.Inc()
	}
	if a.hook != nil {
		a.hook.enqueue(payloadOf(e, a.cfg))
	}
}

// Close stops the webhook goroutine after it has delivered what is queued, or when ctx is done
// (what is left is dropped and counted).
func (a *Alerter) Close(ctx context.Context) error {
	if a.hook == nil {
		return nil
	}
	return a.hook.close(ctx)
}

// eventAttrs lists the event's fields for the log, in a fixed order, leaving out empty ones.
func eventAttrs(e Event) []slog.Attr {
	attrs := []slog.Attr{slog.String("kind", string(e.Kind)), slog.String("priority", e.Priority)}
	for _, kv := range [][2]string{{"rule", e.Rule}, {"file", e.File}, {"commit", e.Commit},
		{"old", e.Old}, {"new", e.New}, {"diff", e.Diff}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		attrs = append(attrs, slog.String(k, e.Fields[k]))
	}
	return attrs
}

// slogLevel maps a Falco priority to the nearest slog level; the exact priority travels as an attr.
func slogLevel(priority string) slog.Level {
	switch syslogPriority(priority) {
	case 0, 1, 2, 3:
		return slog.LevelError
	case 4:
		return slog.LevelWarn
	case 7:
		return slog.LevelDebug
	default:
		return slog.LevelInfo
	}
}

// syslogPriority maps Falco's priorities, which are syslog's severities by name, to their numbers;
// -1 when the name is not one.
func syslogPriority(p string) int {
	switch p {
	case "Emergency", "EMERGENCY", "emergency":
		return 0
	case "Alert", "ALERT", "alert":
		return 1
	case "Critical", "CRITICAL", "critical":
		return 2
	case "Error", "ERROR", "error":
		return 3
	case "Warning", "WARNING", "warning":
		return 4
	case "Notice", "NOTICE", "notice":
		return 5
	case "Informational", "INFORMATIONAL", "informational", "Info", "INFO", "info":
		return 6
	case "Debug", "DEBUG", "debug":
		return 7
	}
	return -1
}
