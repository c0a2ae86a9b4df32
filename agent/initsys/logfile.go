package initsys

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

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
