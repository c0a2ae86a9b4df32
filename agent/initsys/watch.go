package initsys

import (
	"context"
	"errors"
	"time"
)

// watchReloader is for a Falco that watches its own files (watch_config_files): writing them was
// the reload. Reloading again would widen the window in which Falco sees nothing, so it only
// verifies, and falls back to the init system when Falco did not pick the files up.
type watchReloader struct {
	o        Options
	fallback Reloader // how Falco would be reloaded otherwise; its checks find Falco's process
	check    checker
	// refused: Falco refused the files of the last verification. 0.32.1 exited; 0.40 kept its old
	// rules and stopped watching its files (seen: putting the old files back then restarts
	// nothing). Either way only the fallback can make it load the next files: the rollback's.
	refused bool
}

func (r *watchReloader) Method() Method { return MethodWatch }

func (r *watchReloader) Reload(ctx context.Context) error {
	if r.refused {
		return r.fallback.Reload(ctx)
	}
	return nil
}

func (r *watchReloader) Verify(ctx context.Context, since time.Time) error {
	if r.refused {
		err := r.fallback.Verify(ctx, since)
		r.refused = refusal(err)
		return err
	}
	err := r.verify(ctx, since)
	r.refused = refusal(err)
	return err
}

// refusal: Falco showed it would not run the files (rather than showing nothing in time).
func refusal(err error) bool {
	var ve *VerifyError
	return errors.As(err, &ve) && !ve.gaveUp
}

func (r *watchReloader) verify(ctx context.Context, since time.Time) error {
	reloads.mark(since) // Falco restarted itself on the write: space any fallback reload from it
	wctx, cancel := context.WithTimeout(ctx, r.o.WatchWait)
	err := r.check.verify(wctx, since)
	cancel()
	if err == nil {
		return nil
	}
	var ve *VerifyError
	// Only a Falco that showed nothing is reloaded another way: one that refused the files (0.32.1
	// exited, 0.40 kept its old rules) would refuse them again.
	if !errors.As(err, &ve) || !ve.gaveUp || r.fallback.Method() == MethodNone {
		return err
	}
	r.o.Logger.Warn("falco did not pick up its files by itself; reloading through the init system",
		"fallback", r.fallback.Method(), "reason", ve.Reason)
	if err := r.fallback.Reload(ctx); err != nil {
		return errors.Join(err, ve)
	}
	return r.fallback.Verify(ctx, since)
}
