package initsys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Detect finds how Falco is reloaded on this node, in this order unless o.Method forces one:
//  1. Falco watches its files (watch_config_files, on by default) and runs: "watch", verifying only,
//     with the method below as fallback;
//  2. systemd booted and a Falco unit loaded: "systemd" over D-Bus (a stopped unit gives "none");
//  3. no systemd and /etc/init.d/falco exists: "sysv";
//  4. a live falco process, from the pid file (checked to really be falco) or /proc: "signal";
//  5. else "none".
//
// why says what was found, for `rulekeeper status` and the warning of "none". err is returned only
// when a forced method cannot work (e.g. "systemd" without D-Bus) or the method is unknown.
func Detect(ctx context.Context, o Options) (r Reloader, why string, err error) {
	o = o.withDefaults()
	if !o.live() {
		return &noneReloader{o: o, why: "sandbox root " + o.Root + ": no falco runs there"}, "sandbox root " + o.Root + ": no falco runs there", nil
	}
	switch o.Method {
	case "":
		return detect(ctx, o)
	case MethodNone:
		why := "method none set in the agent config"
		return &noneReloader{o: o, why: why}, why, nil
	case MethodWatch:
		fb, fwhy := detectInit(ctx, o)
		return newWatch(o, fb), "method watch set in the agent config; fallback " + fwhy, nil
	case MethodSystemd:
		r, why, err := detectSystemd(ctx, o)
		if err == nil && r == nil {
			err = errors.New(why)
		}
		if err != nil {
			return nil, "", fmt.Errorf("method systemd set in the agent config: %w", err)
		}
		return r, why, nil
	case MethodSysV:
		r, err := newSysV(o)
		if err != nil {
			return nil, "", fmt.Errorf("method sysv set in the agent config: %w", err)
		}
		return r, "method sysv set in the agent config: service " + baseName(o.InitScript) + " " + r.action, nil
	case MethodSignal:
		return &signalReloader{o: o}, "method signal set in the agent config", nil
	default:
		return nil, "", fmt.Errorf("unknown reload method %q: use watch, systemd, sysv, signal or none", o.Method)
	}
}

func detect(ctx context.Context, o Options) (Reloader, string, error) {
	fb, fwhy := detectInit(ctx, o)
	conf, err := readFalcoConf(o.FalcoConfig)
	switch {
	case err != nil:
		return fb, fwhy + " (" + err.Error() + ")", nil
	case !conf.watch:
		return fb, fwhy + "; " + o.FalcoConfig + " has watch_config_files: false", nil
	case fb.Method() == MethodNone:
		return fb, fwhy, nil
	}
	return newWatch(o, fb), o.FalcoConfig + " watches its files (watch_config_files); fallback " + fwhy, nil
}

func newWatch(o Options, fb Reloader) *watchReloader {
	w := &watchReloader{o: o, fallback: fb}
	if cf, ok := fb.(interface{ checker() checker }); ok {
		w.check = cf.checker()
	} else {
		w.check = (&signalReloader{o: o}).checker()
	}
	w.check.method = MethodWatch
	w.check.unit = withoutStart(w.check.unit)
	return w
}

// withoutStart drops "started after the write" as proof: a self-watching Falco restarts in process.
func withoutStart(f func(context.Context, time.Time) (bool, bool, string, bool)) func(context.Context, time.Time) (bool, bool, string, bool) {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, since time.Time) (bool, bool, string, bool) {
		ok, _, reason, fatal := f(ctx, since)
		return ok, false, reason, fatal
	}
}

// detectInit is steps 2 to 5: never nil.
func detectInit(ctx context.Context, o Options) (Reloader, string) {
	var notes []string
	if booted(o) {
		r, why, err := detectSystemd(ctx, o)
		switch {
		case err != nil:
			notes = append(notes, "systemd is running but "+err.Error())
		case r != nil:
			return r, why
		default:
			notes = append(notes, why)
		}
	} else if _, err := os.Stat(o.InitScript); err == nil {
		r, err := newSysV(o)
		if err == nil {
			return r, "no systemd; " + o.InitScript + " exists: service " + baseName(o.InitScript) + " " + r.action
		}
		notes = append(notes, err.Error())
	}
	pid, note, err := findFalco(o.PidFile)
	if err == nil {
		return &signalReloader{o: o}, join(notes, fmt.Sprintf("falco runs as pid %d (%s): SIGHUP", pid, note))
	}
	why := join(notes, note+"; "+err.Error()+": falco will not be reloaded")
	return &noneReloader{o: o, why: why}, why
}

// detectSystemd returns (nil, why, nil) when no usable Falco unit is loaded.
func detectSystemd(ctx context.Context, o Options) (Reloader, string, error) {
	c, err := connect(ctx)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	unit, canReload, active, found, err := findUnit(ctx, c, o.Unit)
	if err != nil {
		return nil, "", err
	}
	if !found {
		return nil, "systemd has no falco unit loaded", nil
	}
	if !active {
		why := "systemd unit " + unit + " is stopped: falco will not be reloaded"
		return &noneReloader{o: o, why: why}, why, nil
	}
	verb := "restart (no ExecReload)"
	if canReload {
		verb = "reload"
	}
	return &systemdReloader{o: o, unit: unit, canReload: canReload}, "systemd unit " + unit + " is active: " + verb, nil
}

func join(notes []string, last string) string {
	out := ""
	for _, n := range notes {
		out += n + "; "
	}
	return out + last
}
