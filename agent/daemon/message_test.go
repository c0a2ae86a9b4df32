package daemon

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// messages keeps the message of every log record: the text a person reads
// (journald's MESSAGE, what `journalctl -u rulekeeper` shows; the text
// log's msg), apart from the fields.
type messages struct {
	mu   sync.Mutex
	msgs []string
	next slog.Handler
}

func (m *messages) Enabled(context.Context, slog.Level) bool { return true }
func (m *messages) Handle(ctx context.Context, r slog.Record) error {
	m.mu.Lock()
	m.msgs = append(m.msgs, r.Message)
	m.mu.Unlock()
	return m.next.Handle(ctx, r)
}
func (m *messages) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *messages) WithGroup(string) slog.Handler      { return m }

func (m *messages) find(sub ...string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.msgs {
		all := true
		for _, w := range sub {
			all = all && strings.Contains(s, w)
		}
		if all {
			return true
		}
	}
	return false
}

// Why a pass failed is in the message itself, with the path and the OS
// error, not only in a field: a policy folder that cannot be read, and a
// Falco config that cannot be read.
func TestFailureMessageCarriesReason(t *testing.T) {
	l := newLab(t, labOpts{local: true, interval: "100ms"})
	msgs := &messages{next: testLog(t).Handler()}
	d, err := New(l.config(), Options{Root: l.root, Log: slog.New(msgs)})
	if err != nil {
		t.Fatal(err)
	}
	l.startDaemon(d)
	l.waitConverged(10 * time.Second)

	cfg := l.host("/etc/falco/falco.yaml")
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	testwait.Eventually(t, 10*time.Second, "a failed pass's message with the reason", func() bool {
		return msgs.find("pass failed", "/etc/falco/falco.yaml", "directory")
	})

	if err := os.RemoveAll(l.repo); err != nil {
		t.Fatal(err)
	}
	d.Trigger() // a policy folder is read on a trigger (SIGHUP), not watched
	testwait.Eventually(t, 10*time.Second, "a refusal message with the reason", func() bool {
		return msgs.find("the policy has errors", "Cannot read policy directory", "open "+l.repo, "no such file or directory")
	})
	e := l.hook.wait(t, 5*time.Second, "refused", nil)
	if !strings.Contains(e.Output, "open "+l.repo+": no such file or directory") {
		t.Errorf("webhook output without the reason: %s", e.Output)
	}
}
