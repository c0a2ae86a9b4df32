package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// Reload says what happened to Falco after a pass wrote files.
type Reload struct {
	Method     initsys.Method `json:"method"`
	Verified   bool           `json:"verified"`
	RolledBack bool           `json:"rolled_back,omitempty"`
	Error      string         `json:"error,omitempty"`
	// Took is how long Falco was being reloaded and checked, a rollback's
	// reload included: the time its rules may not be the ones on disk.
	Took time.Duration `json:"-"`
}

// ErrRolledBack means Falco did not come back with the new files: they were
// put back, Falco reloaded with them, and the change is refused from now on.
var ErrRolledBack = errors.New("Falco did not come back with the new rules files: the previous files were put back")

// ErrVerifyAbandoned means the pass stopped while it verified Falco: the
// written files stay, unverified, and nothing is rolled back or refused.
var ErrVerifyAbandoned = errors.New("stopped while verifying that Falco loaded the new files; they stay, unverified")

// reload makes Falco load what the pass wrote and checks it did; if not, it
// puts back the previous files, reloads again and verifies again.
func reload(ctx context.Context, r initsys.Reloader, plan *reconcile.Plan, written time.Time) (*Reload, error) {
	start := time.Now()
	out := &Reload{Method: r.Method()}
	defer func() { out.Took = time.Since(start) }()
	err := reloadVerify(ctx, r, written)
	if err == nil {
		out.Verified = true
		return out, nil
	}
	out.Error = err.Error()
	if ctx.Err() != nil {
		// The agent is stopping (SIGTERM, a package upgrade): the files
		// passed every check before they were written; a verification cut
		// short says nothing against them, so they stay.
		return out, fmt.Errorf("%w: %w", ErrVerifyAbandoned, ctx.Err())
	}
	if rbErr := reconcile.Rollback(plan); rbErr != nil {
		return out, fmt.Errorf("%w; putting the previous files back failed too: %v", err, rbErr)
	}
	out.RolledBack = true
	back := time.Now()
	if err2 := reloadVerify(ctx, r, back); err2 != nil {
		return out, errors.Join(ErrRolledBack, err, fmt.Errorf("and Falco is not healthy with the previous files either: %w", err2))
	}
	return out, errors.Join(ErrRolledBack, err)
}

// VerifyTimeout bounds one reload and its verification: a Falco that is
// not healthy by then did not come back.
var VerifyTimeout = 60 * time.Second

func reloadVerify(ctx context.Context, r initsys.Reloader, since time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, VerifyTimeout)
	defer cancel()
	if err := r.Reload(ctx); err != nil {
		return fmt.Errorf("reloading Falco (%s): %w", r.Method(), err)
	}
	return r.Verify(ctx, since) // its error names the method and quotes Falco's log
}
