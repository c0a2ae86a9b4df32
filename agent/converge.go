// Package agent ties the parts of rulekeeper together: every trigger (the
// command line's apply, the daemon's timer, a new commit, a drift event)
// runs Converge, the one path from policy to files.
package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/rulekeeper/rulekeeper/agent/initsys"
	"github.com/rulekeeper/rulekeeper/policy"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// Input is everything one pass depends on.
type Input struct {
	PolicyDir string
	Node      policy.Node
	Reconcile reconcile.Options
	// Apply false only plans: the same computation, nothing written.
	Apply bool
	// Reloader makes Falco load written files; nil leaves Falco alone.
	Reloader initsys.Reloader
}

// Outcome is what a pass found and did.
type Outcome struct {
	Diags  hcl.Diagnostics
	Files  map[string]*hcl.File // the policy's sources, to render Diags
	Plan   *reconcile.Plan
	Result *reconcile.Result // nil when only planned
	Reload *Reload           // nil when no file changed or nothing reloads Falco
}

// ErrInvalidPolicy is returned when the policy has errors: nothing is
// written, the last good state stays.
var ErrInvalidPolicy = fmt.Errorf("the policy has errors: nothing was changed")

// Converge loads and evaluates the policy for this node, plans, and (when
// in.Apply) applies the plan under the state directory's lock.
func Converge(ctx context.Context, in Input) (*Outcome, error) {
	if in.Apply {
		unlock, err := reconcile.Lock(in.Reconcile.StatePath())
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	pol, diags := policy.Load(in.PolicyDir)
	out := &Outcome{Diags: diags, Files: pol.Files()}
	if diags.HasErrors() {
		return out, ErrInvalidPolicy
	}
	desired, ediags := pol.Evaluate(in.Node)
	out.Diags = append(out.Diags, ediags...)
	if ediags.HasErrors() {
		return out, ErrInvalidPolicy
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	plan, err := reconcile.MakePlan(desired, in.Reconcile)
	if err != nil {
		return out, err
	}
	out.Plan = plan
	if !in.Apply {
		return out, nil
	}
	written := time.Now()
	res, err := reconcile.Apply(plan)
	if err != nil {
		return out, err
	}
	out.Result = res
	if in.Reloader == nil || plan.Empty() {
		return out, nil
	}
	out.Reload, err = reload(ctx, in.Reloader, plan, written)
	return out, err
}
