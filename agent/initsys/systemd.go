package initsys

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// falcoUnits are the units Falco's packages ship (aliased to falco.service), in the order tried.
var falcoUnits = []string{"falco.service", "falco-modern-bpf.service", "falco-kmod.service", "falco-bpf.service", "falco-custom.service"}

// systemdReloader reloads Falco's unit over D-Bus: ReloadUnit where the unit can reload (Falco
// 0.36+ ships ExecReload=kill -1 $MAINPID, a hot reload), else RestartUnit (0.32's unit).
type systemdReloader struct {
	o         Options
	unit      string
	canReload bool
}

// booted reports whether systemd is the init system (sd_booted's test).
func booted(o Options) bool {
	st, err := os.Stat(o.path("/run/systemd/system"))
	return err == nil && st.IsDir()
}

// connect opens a private system-bus connection. Its life is tied to the context given to
// go-systemd, so it gets one of its own; the caller closes the connection.
func connect(ctx context.Context) (*sd.Conn, error) {
	type res struct {
		c   *sd.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := sd.NewSystemConnectionContext(context.Background())
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("connect to systemd over D-Bus: %w", r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, fmt.Errorf("connect to systemd over D-Bus: %w", ctx.Err())
	}
}

// findUnit returns the Falco unit systemd has loaded, preferring an active one. found is false
// when none is loaded; active tells whether the unit chosen runs.
func findUnit(ctx context.Context, c *sd.Conn, forced string) (unit string, canReload, active, found bool, err error) {
	candidates := falcoUnits
	if forced != "" {
		candidates = []string{forced}
	}
	for _, name := range candidates {
		props, err := c.GetUnitPropertiesContext(ctx, name)
		if err != nil {
			return "", false, false, false, fmt.Errorf("systemd unit %s: %w", name, err)
		}
		if props["LoadState"] != "loaded" {
			continue
		}
		id, _ := props["Id"].(string) // the real name behind an alias
		cr, _ := props["CanReload"].(bool)
		act := props["ActiveState"] != "inactive"
		if !found || act && !active {
			unit, canReload, active, found = id, cr, act, true
		}
		if active {
			break
		}
	}
	return unit, canReload, active, found, nil
}

func (r *systemdReloader) Method() Method { return MethodSystemd }

func (r *systemdReloader) Reload(ctx context.Context) error {
	if err := reloads.wait(ctx, r.o.MinGap); err != nil {
		return err
	}
	c, err := connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	done := make(chan string, 1)
	verb := "restart"
	if r.canReload {
		verb = "reload"
		_, err = c.ReloadUnitContext(ctx, r.unit, "replace", done)
	} else {
		_, err = c.RestartUnitContext(ctx, r.unit, "replace", done)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, r.unit, err)
	}
	select {
	case res := <-done:
		if res != "done" {
			lines := lastLines(ctx, journal{unit: r.unit}, time.Now().Add(-time.Minute), 10)
			return fmt.Errorf("%s %s: job %s (the unit failed to start, or hit its StartLimitBurst; journalctl -u %s):\n  %s",
				verb, r.unit, res, r.unit, strings.Join(lines, "\n  "))
		}
		r.o.Logger.Info("falco unit "+verb+"ed", "unit", r.unit)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: waiting for the job: %w", verb, r.unit, ctx.Err())
	}
}

func (r *systemdReloader) Verify(ctx context.Context, since time.Time) error {
	return r.checker().verify(ctx, since)
}

// checker asks systemd for the unit's state and main pid on every poll, over a connection of its own.
func (r *systemdReloader) checker() checker {
	query := func(ctx context.Context) (map[string]any, error) {
		c, err := connect(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.GetUnitTypePropertiesContext(ctx, r.unit, "Service")
	}
	unitProps := func(ctx context.Context) (map[string]any, error) {
		c, err := connect(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.GetUnitPropertiesContext(ctx, r.unit)
	}
	return checker{
		o: r.o, method: MethodSystemd, logs: journal{unit: r.unit},
		pidOf: func(ctx context.Context) (int, error) {
			p, err := query(ctx)
			if err != nil {
				return 0, err
			}
			pid, _ := p["MainPID"].(uint32)
			if pid == 0 || !alive(int(pid)) {
				return 0, fmt.Errorf("unit %s has no main process", r.unit)
			}
			return int(pid), nil
		},
		unit: func(ctx context.Context, since time.Time) (ok, started bool, reason string, fatal bool) {
			p, err := unitProps(ctx)
			if err != nil {
				return false, false, err.Error(), false
			}
			state, _ := p["ActiveState"].(string)
			sub, _ := p["SubState"].(string)
			switch state {
			case "active":
			case "failed":
				s, _ := query(ctx)
				return false, false, fmt.Sprintf("unit %s failed (%v, exit status %v)", r.unit, s["Result"], s["ExecMainStatus"]), true
			default:
				return false, false, fmt.Sprintf("unit %s is %s (%s)", r.unit, state, sub), false
			}
			s, err := query(ctx)
			if err != nil {
				return false, false, err.Error(), false
			}
			startUsec, _ := s["ExecMainStartTimestamp"].(uint64)
			return true, startUsec >= uint64(since.UnixMicro()), "", false
		},
	}
}
