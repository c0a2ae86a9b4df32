package initsys

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func countText(ls []LogLine, sub string) int {
	n := 0
	for _, l := range ls {
		if strings.Contains(l.Text, sub) {
			n++
		}
	}
	return n
}

// The journal of a real Falco 0.40.0 holds every line twice; the verify reads each once, in the
// order Falco logged it, and tells the trial load, the refusal and the real load apart.
func TestJournalOfFalco040(t *testing.T) {
	b, err := os.ReadFile("testdata/journal-0.40.0-refused-then-rolled-back.json")
	if err != nil {
		t.Fatal(err)
	}
	all := parseJournal(b, time.Time{})
	for sub, want := range map[string]int{
		"Started falco.service":                    1,
		"SIGHUP received, restarting":              1,
		"hot restart failure":                      1,
		"Loading rules from:":                      4, // the start, the refused trial, the rollback's trial, the restart
		"Opening 'syscall' source":                 2, // the start, the restart
		"Reloading falco.service":                  1,
		"falco_rules.yaml | schema validation: ok": 4,
	} {
		if got := countText(all, sub); got != want {
			t.Errorf("%q: %d lines, want %d", sub, got, want)
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Before(all[i-1].At) {
			t.Fatalf("line %d (%q) is older than the one before", i, all[i].Text)
		}
	}
	at := func(sub string) time.Time {
		for _, l := range all {
			if strings.Contains(l.Text, sub) {
				return l.At
			}
		}
		t.Fatalf("no %q", sub)
		return time.Time{}
	}
	start, refused, reload := at("Started falco.service"), at("hot restart failure"), at("Reloading falco.service")
	settle := 300 * time.Millisecond
	cases := []struct {
		name       string
		from, upTo time.Time
		want       string
	}{
		{"starting", start, at("Opening 'syscall'"), "loading"}, // not yet up for settle
		{"started", start, at("Opening 'syscall'").Add(settle), "loaded"},
		{"trial of the invalid file", start.Add(500 * time.Millisecond), refused.Add(-time.Microsecond), "loading"},
		{"refused", start.Add(500 * time.Millisecond), reload, "failed"},
		{"rollback's trial", reload, at("SIGHUP received").Add(-time.Microsecond), "loading"},
		{"restarting", reload, at("SIGHUP received").Add(time.Microsecond), "restarting"},
		{"rolled back", reload, all[len(all)-1].At.Add(settle), "loaded"},
	}
	for _, c := range cases {
		var ls []LogLine
		for _, l := range all {
			if !l.At.Before(c.from) && !l.At.After(c.upTo) {
				ls = append(ls, l)
			}
		}
		if got, _ := loadSeen(ls, settle, c.upTo); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// Falco's own times in a log file: to the second (ctime-like or ISO 8601) or, for event outputs,
// to the nanosecond; the stand-in's RFC 3339.
func TestParseFileLine(t *testing.T) {
	prev := time.Date(2026, 11, 30, 4, 47, 38, 0, time.Local)
	for _, c := range []struct {
		line, msg string
		exact     bool
		want      time.Time
	}{
		{"Mon Nov 30 04:46:32 2026: Loading rules from:", "Loading rules from:", false, time.Date(2026, 11, 30, 4, 46, 32, 0, time.Local)},
		{"Mon Nov  2 04:46:32 2026: Falco version 0.32.1", "Falco version 0.32.1", false, time.Date(2026, 11, 2, 4, 46, 32, 0, time.Local)},
		{"2026-11-30T04:47:18+0000: Falco version: 0.40.0 (x86_64)", "Falco version: 0.40.0 (x86_64)", false, time.Date(2026, 11, 30, 4, 47, 18, 0, time.UTC)},
		{"04:47:38.795695704: Critical Falco internal: hot restart failure: x: Invalid", "04:47:38.795695704: Critical Falco internal: hot restart failure: x: Invalid", true, time.Date(2026, 11, 30, 4, 47, 38, 795695704, time.Local)},
		{"2026-11-30T04:47:18.123456789Z: Loading rules from file /x:", "Loading rules from file /x:", true, time.Date(2026, 11, 30, 4, 47, 18, 123456789, time.UTC)},
	} {
		at, msg, exact, ok := parseFileLine(c.line, prev)
		if !ok || msg != c.msg || exact != c.exact || !at.Equal(c.want) {
			t.Errorf("%q: %v %q exact=%t ok=%t, want %v %q exact=%t", c.line, at, msg, exact, ok, c.want, c.msg, c.exact)
		}
	}
	for _, l := range []string{"   - event drop detected: 0 occurrences", "1 Errors:", ""} {
		if _, _, _, ok := parseFileLine(l, prev); ok {
			t.Errorf("%q: taken for a timed line", l)
		}
	}
}

// A log to the second: a line of the second the files were written in counts, unless an earlier
// verification already read it (the failure that a rollback's write follows within the second).
func TestLogFileSameSecond(t *testing.T) {
	p := t.TempDir() + "/falco.log"
	writeFile(t, p, "Mon Nov 30 04:46:32 2026: Loading rules from file /x:\nError: Could not load rules file /x: 1 errors:\n")
	since := time.Date(2026, 11, 30, 4, 46, 32, 600e6, time.Local)
	ls, err := logFile{path: p}.lines(t.Context(), since)
	if err != nil || len(ls) != 2 {
		t.Fatalf("want the load and its error counted, got %v %v", ls, err)
	}
	logMarks.setEnd(p)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, append(b, "Mon Nov 30 04:46:32 2026: Loading rules from file /x:\n"...), 0o644)
	ls, _ = logFile{path: p}.lines(t.Context(), since)
	if len(ls) != 1 || !strings.Contains(ls[0].Text, "Loading rules") {
		t.Fatalf("after a verification read the failure, want only the new load, got %v", ls)
	}
	// A new file at the path (rotated, or Falco's service started again): the mark was another's.
	writeFile(t, p, "Mon Nov 30 04:46:32 2026: Loading rules from file /x:\n")
	if ls, _ = (logFile{path: p}).lines(t.Context(), since); len(ls) != 1 {
		t.Fatalf("a new log file: want its load counted, got %v", ls)
	}
}

// The verify reads only what Falco logged at or after the write: parseJournal
// drops the earlier lines journalctl's whole-second --since lets through.
func TestJournalSince(t *testing.T) {
	b, err := os.ReadFile("testdata/journal-0.40.0-refused-then-rolled-back.json")
	if err != nil {
		t.Fatal(err)
	}
	all := parseJournal(b, time.Time{})
	mid := all[len(all)/2].At
	later := parseJournal(b, mid)
	if len(later) == 0 || len(later) >= len(all) {
		t.Fatalf("%d lines since %v of %d", len(later), mid, len(all))
	}
	for _, l := range later {
		if l.At.Before(mid) {
			t.Fatalf("a line from before since: %v %q", l.At, l.Text)
		}
	}
}

// A line Falco logged to both stderr and syslog is kept once when the two
// copies are up to a second apart; the same text from one stream twice, or
// a different text, is kept.
func TestDedupe(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	line := func(d time.Duration, text string, syslog bool) journalLine {
		return journalLine{LogLine: LogLine{At: t0.Add(d), Text: text}, syslog: syslog}
	}
	got := dedupe([]journalLine{
		line(0, "Loading rules from:", false),
		line(time.Second, "Loading rules from:", true), // the syslog copy, a second late
		line(2*time.Second, "SIGHUP received, restarting...", false),
		line(2*time.Second, "Opening 'syscall' source", true), // another text
		line(3*time.Second, "SIGHUP received, restarting...", false),
		line(4*time.Second, "\nfirst line empty", false),
		line(4*time.Second, "\nsecond line differs", true),
	})
	var texts []string
	for _, l := range got {
		texts = append(texts, l.Text)
	}
	want := []string{"Loading rules from:", "SIGHUP received, restarting...", "Opening 'syscall' source",
		"SIGHUP received, restarting...", "\nfirst line empty"}
	if !slices.Equal(texts, want) {
		t.Fatalf("got %q\nwant %q", texts, want)
	}
}

// An event line Falco logged just before midnight and read just after is
// placed on the day before.
func TestEventTimeAcrossMidnight(t *testing.T) {
	ref := time.Date(2026, 12, 1, 0, 0, 30, 0, time.Local)
	want := time.Date(2026, 11, 30, 23, 59, 50, 0, time.Local)
	for _, text := range []string{"23:59:50.000000000: Critical Falco internal: hot restart failure", "23:59:50.000000000: "} {
		if got := eventTime(text, ref); !got.Equal(want) {
			t.Fatalf("%q: got %v, want %v", text, got, want)
		}
	}
	if got := eventTime("00:00:10.000000000: Critical x", ref); !got.Equal(time.Date(2026, 12, 1, 0, 0, 10, 0, time.Local)) {
		t.Fatalf("same day: got %v", got)
	}
}
