package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// payload is the JSON Falcosidekick accepts on its input (its types.FalcoPayload): it requires a
// priority, a rule, a time and at least one output field.
type payload struct {
	UUID         string            `json:"uuid"`
	Output       string            `json:"output"`
	Priority     string            `json:"priority"`
	Rule         string            `json:"rule"`
	Time         time.Time         `json:"time"`
	OutputFields map[string]string `json:"output_fields"`
	Source       string            `json:"source"`
	Tags         []string          `json:"tags"`
	Hostname     string            `json:"hostname,omitempty"`
}

func payloadOf(e Event, cfg Config) payload {
	fields := map[string]string{"rulekeeper.kind": string(e.Kind)}
	var detail []string
	for _, kv := range [][2]string{{"rule", e.Rule}, {"file", e.File}, {"commit", e.Commit},
		{"old", e.Old}, {"new", e.New}, {"diff", e.Diff}} {
		if kv[1] == "" {
			continue
		}
		fields["rulekeeper."+kv[0]] = kv[1]
		if kv[0] == "rule" || kv[0] == "file" || kv[0] == "commit" {
			detail = append(detail, fmt.Sprintf("%s=%s", kv[0], kv[1]))
		}
	}
	for k, v := range e.Fields {
		if !strings.Contains(k, ".") {
			k = "rulekeeper." + k
		}
		fields[k] = v
	}
	// Falco's own outputs read "<time>: <Priority> <text>"; keep the look in shared channels.
	out := fmt.Sprintf("%s: %s %s", e.Time.Format("15:04:05.000000000"), e.Priority, e.Message)
	if len(detail) > 0 {
		out += " (" + strings.Join(detail, " ") + ")"
	}
	return payload{
		UUID:         newUUID(),
		Output:       out,
		Priority:     e.Priority,
		Rule:         "rulekeeper " + string(e.Kind),
		Time:         e.Time.UTC(),
		OutputFields: fields,
		Source:       "rulekeeper",
		Tags:         append([]string{"rulekeeper", string(e.Kind)}, cfg.Tags...),
		Hostname:     cfg.Hostname,
	}
}

// newUUID makes a random (version 4) UUID, so that a receiver can drop the duplicate a retry after a
// lost response produces.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// webhook delivers payloads one at a time from a bounded queue, so a slow or dead receiver costs the
// agent's passes nothing but dropped alerts, which are counted.
type webhook struct {
	url     string
	headers map[string]string
	retries int
	timeout time.Duration
	backoff time.Duration
	client  *http.Client
	log     *slog.Logger
	m       *metrics

	q        chan payload
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	dropping atomic.Bool
}

func newWebhook(cfg Config, log *slog.Logger, m *metrics) *webhook {
	h := &webhook{
		url: cfg.WebhookURL, headers: cfg.WebhookHeaders,
		retries: cfg.WebhookRetries, timeout: cfg.WebhookTimeout, backoff: cfg.WebhookBackoff,
		client: &http.Client{}, log: log, m: m,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if h.retries <= 0 {
		h.retries = 3
	}
	if h.timeout <= 0 {
		h.timeout = 5 * time.Second
	}
	if h.backoff <= 0 {
		h.backoff = 500 * time.Millisecond
	}
	size := cfg.WebhookQueue
	if size <= 0 {
		size = 256
	}
	h.q = make(chan payload, size)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go h.run()
	return h
}

func (h *webhook) enqueue(p payload) {
	select {
	case h.q <- p:
		if h.dropping.Swap(false) {
			h.log.Info("webhook queue has room again")
		}
	default:
		h.m.deliveries.WithLabelValues("dropped").Inc()
		// One line when dropping starts, not one per dropped event.
		if !h.dropping.Swap(true) {
			h.log.Error("webhook queue full: dropping alerts until it drains", "queue", cap(h.q), "webhook", redact(h.url))
		}
	}
}

func (h *webhook) run() {
	defer close(h.done)
	for {
		select {
		case p := <-h.q:
			h.deliver(p)
		case <-h.stop:
			for {
				select {
				case p := <-h.q:
					h.deliver(p)
				default:
					return
				}
			}
		}
	}
}

func (h *webhook) close(ctx context.Context) error {
	h.stopOnce.Do(func() { close(h.stop) })
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		h.cancel()
		<-h.done
		return fmt.Errorf("webhook: alerts still queued at shutdown were dropped: %w", ctx.Err())
	}
}

// deliver posts one payload, retrying on 5xx, 429 and connection errors with exponential backoff.
// It logs once per payload that could not be delivered, not once per attempt.
func (h *webhook) deliver(p payload) {
	if h.ctx.Err() != nil {
		h.m.deliveries.WithLabelValues("dropped").Inc()
		return
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen with string fields; do not retry it
		h.m.deliveries.WithLabelValues("rejected").Inc()
		h.log.Error("webhook: encode alert", "err", err)
		return
	}
	wait := h.backoff
	for attempt := 1; ; attempt++ {
		status, snippet, err := h.post(body)
		if err == nil && status/100 == 2 {
			h.m.deliveries.WithLabelValues("delivered").Inc()
			return
		}
		if err == nil && status != http.StatusTooManyRequests && status < 500 {
			h.m.deliveries.WithLabelValues("rejected").Inc()
			h.log.Error("webhook rejected the alert; not retrying", "status", status, "response", snippet,
				"webhook", redact(h.url), "alert_rule", p.Rule, "uuid", p.UUID)
			return
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d: %s", status, snippet)
		}
		if attempt > h.retries || h.ctx.Err() != nil {
			h.m.deliveries.WithLabelValues("failed").Inc()
			h.log.Error("webhook delivery failed; alert dropped", "attempts", attempt, "err", err,
				"webhook", redact(h.url), "alert_rule", p.Rule, "uuid", p.UUID)
			return
		}
		h.log.Debug("webhook attempt failed; retrying", "attempt", attempt, "err", err, "in", wait)
		select {
		case <-time.After(wait + randv2.N(wait/4+1)):
		case <-h.ctx.Done():
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (h *webhook) post(body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(h.ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", errors.New("invalid webhook URL") // the parse error would repeat it
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rulekeeper")
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		// url.Error repeats the whole URL, whose path may be the webhook's secret.
		return 0, "", fmt.Errorf("%s %s: %w", ue.Op, redact(h.url), ue.Err)
	} else if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// redact shows only the scheme and host: a chat service's webhook URL carries its secret in the path
// or the user info.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}
