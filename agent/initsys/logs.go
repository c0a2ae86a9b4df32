package initsys

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
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
