package initsys

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
		"--since", "@"+strconv.FormatInt(since.Unix()-1, 10))
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl -u %s: %w", j.unit, err)
	}
	var res []LogLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Message any    `json:"MESSAGE"`
			Usec    string `json:"__REALTIME_TIMESTAMP"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		us, _ := strconv.ParseInt(e.Usec, 10, 64)
		at := time.UnixMicro(us)
		if at.Before(since) {
			continue
		}
		msg, _ := e.Message.(string) // binary messages come as byte arrays: skip them
		res = append(res, LogLine{At: at, Text: msg})
	}
	return res, nil
}

// logFile reads a file of lines "TIME: message" with an RFC 3339 time, as the stand-in writes.
type logFile struct{ path string }

func (f logFile) describe() string { return f.path }

func (f logFile) lines(_ context.Context, since time.Time) ([]LogLine, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err
	}
	var res []LogLine
	kept := false // whether the last timed line was kept: its continuation lines follow it
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		ts, msg, ok := strings.Cut(l, ": ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			// A continuation of a multi-line message (Falco's load errors): same time as its first line.
			if n := len(res); kept && n > 0 && l != "" {
				res = append(res, LogLine{At: res[n-1].At, Text: l})
			}
			continue
		}
		if kept = !at.Before(since); kept {
			res = append(res, LogLine{At: at, Text: msg})
		}
	}
	return res, nil
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

// loadSeen tells from the log whether Falco loaded its rules after since: "loaded" once a
// `Loading rules from file` line is followed by no error for settle; "failed" when an error follows.
func loadSeen(ls []LogLine, settle time.Duration, now time.Time) (state string, last time.Time) {
	state = "none"
	for _, l := range ls {
		switch {
		case strings.Contains(l.Text, "Loading rules from file"):
			state, last = "loading", l.At
		case state != "none" && (strings.HasPrefix(l.Text, "Error") || strings.Contains(l.Text, "Could not load rules")):
			state, last = "failed", l.At
		}
	}
	if state == "loading" && now.Sub(last) >= settle {
		state = "loaded"
	}
	return state, last
}
