package daemon

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
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
	t.Parallel()
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

// A rules file rulekeeper does not manage is remembered by its hash: an
// edit there is tampering told with the sizes and the new hash, without a
// diff, and no copy of it is kept in the state directory.
func TestUnmanagedEditByHash(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "100ms"})
	site := "/etc/falco/rules.d/10-site.yaml"
	if err := os.WriteFile(l.host(site), []byte("- list: site_hosts\n  items: [a]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.start()
	l.waitConverged(10 * time.Second)
	testwait.Eventually(t, 5*time.Second, "the site file remembered by its hash", func() bool {
		_, err := os.Stat(l.host("/var/lib/rulekeeper/seen/sha256-" + url.PathEscape(site)))
		return err == nil
	})
	if _, err := os.Stat(l.host("/var/lib/rulekeeper/seen/" + url.PathEscape(site))); err == nil {
		t.Fatal("a copy of a file rulekeeper does not manage was kept")
	}
	if err := os.WriteFile(l.host(site), []byte("- list: site_hosts\n  items: [a, b]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := l.hook.wait(t, 5*time.Second, "tamper", func(e hookEvent) bool { return e.f("file") == site })
	if e.f("diff") != "" || !strings.Contains(e.Output, "32 bytes before, 35 now, sha256 ") {
		t.Fatalf("tamper alert: %s %+v", e.Output, e.OutputFields)
	}
}

// A password written into the source URL is refused at start, and the refusal does not repeat it.
func TestURLCredentialsNeverShown(t *testing.T) {
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(cfgFile, []byte("source {\n  url = \"http://rk:s3cret-pw@127.0.0.1:9/policy.git\"\n}\nfalco { binary = \"none\" }\n"), 0o644)
	ld := agent.LoadConfig(cfgFile)
	if ld.Config == nil {
		t.Fatalf("config: %v", ld.Diags)
	}
	_, err := New(ld.Config, Options{Root: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "password_file") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("want the URL refused without its password, got %v", err)
	}
}
