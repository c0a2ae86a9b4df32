package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// logger writes Falco-like lines to stderr and, with FALCO_STANDIN_LOG, to a file as well.
type logger struct {
	mu     sync.Mutex
	file   *os.File
	stderr bool
}

func newLogger() *logger {
	lg := &logger{stderr: true}
	if p := os.Getenv("FALCO_STANDIN_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: could not open log file %s: %v\n", p, err)
		} else {
			lg.file = f
		}
	}
	return lg
}

func (lg *logger) printf(format string, args ...any) {
	line := time.Now().Format(timeFormat) + ": " + fmt.Sprintf(format, args...) + "\n"
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.stderr {
		os.Stderr.WriteString(line)
	}
	if lg.file != nil {
		lg.file.WriteString(line)
	}
}

func (lg *logger) close() {
	if lg.file != nil {
		lg.file.Close()
	}
}

// timeFormat is RFC 3339 with fixed-width nanoseconds, so lines sort and parse alike.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"
