package initsys

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LogLine is one line Falco logged; At is zero when the line carries no readable time.
type LogLine struct {
	At   time.Time
	Text string
}

// logSource is where Falco's log can be read: the journal of its unit, or a file.
type logSource interface {
	describe() string
	// lines returns the lines logged at or after since, oldest first.
	lines(ctx context.Context, since time.Time) ([]LogLine, error)
}

// UnitLog is what a systemd unit logged at or after since, oldest first.
func UnitLog(ctx context.Context, unit string, since time.Time) ([]LogLine, error) {
	return journal{unit: unit}.lines(ctx, since)
}

// journal reads a unit's journal with journalctl: go-systemd's sdjournal needs cgo and libsystemd.
type journal struct{ unit string }

func (j journal) describe() string { return "journalctl -u " + j.unit }

func (j journal) lines(ctx context.Context, since time.Time) ([]LogLine, error) {
	// --since takes whole seconds; the microsecond filter below does the rest.
	cmd := exec.CommandContext(ctx, "journalctl", "-u", j.unit, "-o", "json", "--no-pager",
		"--output-fields=MESSAGE,_TRANSPORT", "--since", "@"+strconv.FormatInt(since.Unix()-1, 10))
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl -u %s: %w", j.unit, err)
	}
	return parseJournal(out, since), nil
}

// parseJournal reads journalctl's JSON lines: each line once, at or after since, oldest first.
func parseJournal(out []byte, since time.Time) []LogLine {
	var res []journalLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Message   any    `json:"MESSAGE"`
			Usec      string `json:"__REALTIME_TIMESTAMP"`
			Transport string `json:"_TRANSPORT"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		us, _ := strconv.ParseInt(e.Usec, 10, 64)
		msg, _ := e.Message.(string) // binary messages come as byte arrays: skip them
		l := journalLine{LogLine: LogLine{At: time.UnixMicro(us), Text: msg}, syslog: e.Transport == "syslog"}
		l.At = eventTime(l.Text, l.At)
		if !l.At.Before(since) {
			res = append(res, l)
		}
	}
	return dedupe(res)
}

// journalLine is a journal entry with the way it came in.
type journalLine struct {
	LogLine
	syslog bool
}

// dedupe drops the second copy of each line Falco logged both to stderr and to syslog (its
// defaults, log_stderr and log_syslog): the journal holds both, the stderr one with Falco's
// timestamp in front, and they may arrive a little out of order. Counting restarts or telling a
// trial load from a real one needs each line once. Event outputs (Falco's "hot restart failure")
// are placed at the time they carry first: their stdout copy may come seconds late.
func dedupe(ls []journalLine) []LogLine {
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].At.Before(ls[j].At) })
	const near = time.Second
	drop := make([]bool, len(ls))
	for i, a := range ls {
		if drop[i] {
			continue
		}
		ta := firstLine(a.Text)
		for k := i + 1; k < len(ls) && ls[k].At.Sub(a.At) <= near; k++ {
			if !drop[k] && ls[k].syslog != a.syslog && firstLine(ls[k].Text) == ta {
				drop[k] = true
				break
			}
		}
	}
	out := make([]LogLine, 0, len(ls))
	for i, l := range ls {
		if !drop[i] {
			out = append(out, l.LogLine)
		}
	}
	return out
}

// firstLine is the first line of a message without Falco's time: syslog carries a multi-line
// message whole, the journal's stderr stream one entry per line.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return stripFalcoTime(s)
}

// logFile reads a file Falco's output goes to: lines "TIME: message" with Falco's own time (its
// ctime-like format or, with time_format_iso_8601, ISO 8601; both to the second) or the
// stand-in's RFC 3339 nanoseconds.
type logFile struct{ path string }

func (f logFile) describe() string { return f.path }

func (f logFile) lines(_ context.Context, since time.Time) ([]LogLine, error) {
	b, id, err := readTail(f.path, maxLog)
	if err != nil {
		return nil, err
	}
	mark := logMarks.get(f.path, id)
	var res []LogLine
	kept := false // whether the last timed line was kept: its continuation lines follow it
	var last time.Time
	off := int64(0)
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		lineOff := off
		off += int64(len(l)) + 1
		at, msg, exact, ok := parseFileLine(l, last)
		if !ok {
			// A continuation of a multi-line message (Falco's load errors): same time as its first line.
			if n := len(res); kept && n > 0 && l != "" {
				res = append(res, LogLine{At: res[n-1].At, Text: l})
			}
			continue
		}
		last = at
		if exact {
			kept = !at.Before(since)
		} else {
			// To the second: a line of the second the files were written in counts unless an earlier
			// verification already read past it (the failure a rollback answers).
			kept = at.Truncate(time.Second).After(since) || at.Unix() == since.Unix() && lineOff >= mark
		}
		if kept {
			res = append(res, LogLine{At: at, Text: msg})
		}
	}
	return res, nil
}

// maxLog bounds what is read of a log file: its end, where the lines since the write are.
const maxLog = 4 << 20

// readTail reads the last max bytes of a file, from a line start; offsets it reports are from
// the start of the file, so it returns the whole file when it is smaller.
func readTail(path string, max int64) ([]byte, fileID, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileID{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fileID{}, err
	}
	id := idOf(st)
	if st.Size() > max {
		// Far past the marks of this process's verifications: offsets no longer matter.
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return nil, id, err
		}
		b, err := io.ReadAll(f)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		return b, id, err
	}
	b, err := io.ReadAll(f)
	return b, id, err
}

// fileID tells one log file from the next one at the same path (rotated, or made again).
type fileID struct{ dev, ino uint64 }

func idOf(st os.FileInfo) fileID {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(s.Dev), s.Ino}
	}
	return fileID{}
}

// parseFileLine splits "TIME: message". exact is false for a time to the second only. An event
// output ("15:04:05.000000000: Critical ...") takes its date from the line before.
func parseFileLine(l string, prev time.Time) (at time.Time, msg string, exact, ok bool) {
	for _, layout := range []string{time.RFC3339Nano, time.ANSIC, "2006-01-02T15:04:05-0700"} {
		n := len(layout)
		if layout == time.RFC3339Nano {
			n = strings.Index(l, ": ")
		}
		if n <= 0 || len(l) < n+2 || l[n:n+2] != ": " {
			continue
		}
		if t, err := time.ParseInLocation(layout, l[:n], time.Local); err == nil {
			return t, l[n+2:], layout == time.RFC3339Nano, true
		}
	}
	if t := eventTime(l, prev); !t.Equal(prev) && !prev.IsZero() {
		return t, l, true, true
	}
	return time.Time{}, "", false, false
}

// eventTime is the time an event output line of Falco carries ("15:04:05.123456789: Critical
// Falco internal: ...", to the nanosecond, in local time) on the day of ref; else ref. Falco may
// flush such a line to its stdout long after it happened.
func eventTime(text string, ref time.Time) time.Time {
	const layout = "15:04:05.000000000"
	if len(text) < len(layout)+2 || text[len(layout)] != ':' || text[2] != ':' {
		return ref
	}
	c, err := time.Parse(layout, text[:len(layout)])
	if err != nil {
		return ref
	}
	r := ref.Local()
	t := time.Date(r.Year(), r.Month(), r.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), time.Local)
	if t.After(r.Add(time.Minute)) { // logged before midnight, read after
		t = t.AddDate(0, 0, -1)
	}
	return t
}

// stripFalcoTime drops the time Falco puts in front of what it writes to stderr.
func stripFalcoTime(s string) string {
	if _, msg, _, ok := parseFileLine(s, time.Time{}); ok {
		return msg
	}
	return s
}

// logMarks remembers, per log file, how far the last verification read: a log to the second
// cannot tell by time alone whether a line of the same second came before a rollback's write.
var logMarks = marks{m: map[string]mark{}}

type marks struct {
	mu sync.Mutex
	m  map[string]mark
}

type mark struct {
	id  fileID
	off int64
}

// get is the mark of the file at path, 0 when it is another file than the one marked.
func (k *marks) get(path string, id fileID) int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if m, ok := k.m[path]; ok && m.id == id {
		return m.off
	}
	return 0
}

// setEnd marks the current end of the file as read.
func (k *marks) setEnd(path string) {
	st, err := os.Stat(path)
	if err != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[path] = mark{idOf(st), st.Size()}
}

// lastLines is the tail of what Falco logged since, for an alert; nil when unreadable.
func lastLines(ctx context.Context, src logSource, since time.Time, n int) []string {
	if src == nil {
		return nil
	}
	ls, err := src.lines(ctx, since)
	if err != nil {
		return []string{"(log unreadable: " + err.Error() + ")"}
	}
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Text
	}
	return out
}

// loadSeen tells from the log whether Falco loaded its rules after since, for every version:
//
//	0.32.1: "Loading rules from file /etc/falco/falco_rules.yaml:" per file; a failure logs "Error:
//	        Could not load rules file ..." and Falco exits.
//	0.40.0: "Loading rules from:" then "   /etc/falco/falco_rules.yaml | schema validation: ok" per
//	        file. Before a restart (its file watch, SIGHUP) it loads the new rules on the side: the
//	        same lines, then "SIGHUP received, restarting..." and the real load, which goes on to
//	        open its event sources; a refused change logs "Falco internal: hot restart failure" and
//	        keeps the old rules running.
//
// state is "none" (no load seen), "restarting" (a restart with no load yet), "loading" (a load
// not yet proven: too recent, or 0.40's trial), "loaded" (a real load, and no error or restart
// for settle since), or "failed".
func loadSeen(ls []LogLine, settle time.Duration, now time.Time) (state string, last time.Time) {
	state = "none"
	trial := false // a 0.40-style load that has not yet opened its sources
	for _, l := range ls {
		t := stripFalcoTime(l.Text)
		switch {
		case strings.Contains(t, "hot restart failure"):
			state, last = "failed", l.At
		case strings.HasPrefix(t, "Loading rules from file"):
			state, last, trial = "loading", l.At, false
		case strings.HasPrefix(t, "Loading rules from:"):
			state, last, trial = "loading", l.At, true
		case strings.Contains(t, "SIGHUP received, restarting") || strings.Contains(t, "changed, restarting"):
			state, last = "restarting", l.At
		case state == "loading" && trial && startedSources(t):
			last, trial = l.At, false
		case state == "loading" && (strings.HasPrefix(t, "Error") || strings.Contains(t, "Could not load rules")):
			state, last = "failed", l.At
		}
	}
	switch {
	case state == "loading" && !trial && now.Sub(last) >= settle:
		state = "loaded"
	case state == "loading" && trial && now.Sub(last) >= trialWait:
		// The trial went neither on to a restart nor to running sources: Falco refused the rules.
		// Its "hot restart failure" is an event output, which may sit in its stdout buffer (a log
		// file) or be lost (no syslog); the journal usually has it at once from syslog.
		state = "failed"
	}
	return state, last
}

// trialWait is how long a 0.40-style load may go without a restart or a started source before
// it counts as refused: the trial and its SIGHUP are milliseconds apart, a real load opens its
// sources once the rules compile (about a second for Falco's default rules).
// It is shorter than WatchWait's default, so that a refusal is not taken for a Falco that does
// not watch its files.
const trialWait = 3 * time.Second

// startedSources: a line 0.40+ logs once the rules it loaded run (never after a trial load).
func startedSources(t string) bool {
	for _, p := range []string{"Loaded event sources", "Enabled event sources", "Opening '", "Starting health webserver"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}
