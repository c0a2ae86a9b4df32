package alert

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// NewLogger returns rulekeeper's logger. Started by systemd (JOURNAL_STREAM set, journald's socket
// reachable) it writes to journald with one field per attribute, so `journalctl RULEKEEPER_KIND=drift`
// finds drift; otherwise it writes text, or JSON lines when json is set, to w. A socket alone is not
// enough: `rulekeeper apply` typed in a terminal on a systemd host must print to that terminal.
func NewLogger(w io.Writer, json bool) *slog.Logger {
	if os.Getenv("JOURNAL_STREAM") != "" && journal.Enabled() {
		return slog.New(NewJournalHandler(slog.LevelInfo))
	}
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// JournalHandler is a slog.Handler writing to journald's native protocol. Attribute names become
// journal field names (upper case, groups joined with "_"): rule → RULE, file → FILE. The event kind
// becomes RULEKEEPER_KIND, and an attribute "priority" holding a Falco priority sets the entry's
// syslog PRIORITY instead of the level's.
type JournalHandler struct {
	level  slog.Leveler
	prefix string
	fields map[string]string
}

// NewJournalHandler writes records at or above level to journald.
func NewJournalHandler(level slog.Leveler) *JournalHandler {
	return &JournalHandler{level: level, fields: map[string]string{"SYSLOG_IDENTIFIER": "rulekeeper"}}
}

func (h *JournalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *JournalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := maps.Clone(h.fields)
	pri := levelPriority(r.Level)
	r.Attrs(func(a slog.Attr) bool {
		if h.prefix == "" && a.Key == "priority" {
			if p := syslogPriority(a.Value.String()); p >= 0 {
				pri = journal.Priority(p)
				return true
			}
		}
		addField(vars, h.prefix, a)
		return true
	})
	return journal.Send(r.Message, pri, vars)
}

func (h *JournalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.fields = maps.Clone(h.fields)
	for _, a := range attrs {
		addField(c.fields, h.prefix, a)
	}
	return &c
}

func (h *JournalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + fieldName(name) + "_"
	return &c
}

func levelPriority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}

func addField(vars map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() != slog.KindGroup {
		return
	}
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += fieldName(a.Key) + "_"
		}
		for _, g := range v.Group() {
			addField(vars, p, g)
		}
		return
	}
	name := prefix + fieldName(a.Key)
	if prefix == "" {
		name = topLevelName(name)
	}
	if name == "" {
		return
	}
	if v.Kind() == slog.KindTime {
		vars[name] = v.Time().Format(time.RFC3339Nano)
		return
	}
	vars[name] = v.String()
}

// topLevelName keeps attributes off the fields journald itself fills or reads specially.
func topLevelName(name string) string {
	switch name {
	case "KIND", "MESSAGE", "MSG", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID",
		"MESSAGE_ID", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO":
		return "RULEKEEPER_" + name
	}
	return name
}

// fieldName makes a journal field name: upper-case letters, digits and underscores, not starting
// with an underscore (those are journald's trusted fields) or a digit.
func fieldName(key string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(key) {
		if ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_")
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "F" + s
	}
	return s
}
