package initsys

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// signalReloader sends SIGHUP to Falco found through its pid file or /proc. Falco restarts in
// process on SIGHUP, so its pid stays the same.
type signalReloader struct {
	o Options
}

func (r *signalReloader) Method() Method { return MethodSignal }

func (r *signalReloader) Reload(ctx context.Context) error {
	if err := reloads.wait(ctx, r.o.MinGap); err != nil {
		return err
	}
	// Looked up again now: the pid found at detection may be gone or reused by another process.
	pid, note, err := findFalco(r.o.path(r.o.PidFile))
	if err != nil {
		return fmt.Errorf("SIGHUP falco: %s: %w", note, err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("SIGHUP falco (pid %d): %w", pid, err)
	}
	r.o.Logger.Info("sent SIGHUP to falco", "pid", pid, "found", note)
	return nil
}

func (r *signalReloader) Verify(ctx context.Context, since time.Time) error {
	return r.checker().verify(ctx, since)
}

func (r *signalReloader) checker() checker {
	return checker{o: r.o, method: MethodSignal, logs: fileLogs(r.o), pidOf: func(context.Context) (int, error) {
		pid, note, err := findFalco(r.o.path(r.o.PidFile))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", note, err)
		}
		return pid, nil
	}}
}

// fileLogs is the log file from Options, or nil.
func fileLogs(o Options) logSource {
	if o.LogFile == "" {
		return nil
	}
	return logFile{path: o.path(o.LogFile)}
}

// noneReloader is for a node where nothing can reload Falco: the files are written, Reload warns.
type noneReloader struct {
	o   Options
	why string
}

func (r *noneReloader) Method() Method { return MethodNone }

func (r *noneReloader) Reload(context.Context) error {
	r.o.Logger.Warn("falco was not reloaded", "why", r.why)
	return nil
}

// Verify has nothing to check: no Falco runs that could have taken the files, so no rollback.
func (r *noneReloader) Verify(context.Context, time.Time) error { return nil }
