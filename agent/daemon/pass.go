package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/alert"
	"github.com/rulekeeper/rulekeeper/agent/source"
	"github.com/rulekeeper/rulekeeper/internal/noderoot"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// fullEvery bounds how long polls may take the cheap path (same commit,
// files as last seen) before a pass runs the whole computation again.
const fullEvery = 5 * time.Minute

// loopState is what the loop remembers between passes.
type loopState struct {
	seen     *seenStore
	files    []string         // rules files of the last plan (node paths)
	watched  []string         // what the watcher was given
	reported map[string]*seen // edits already alerted (alert mode), by path
	backoff  source.Backoff
	commit   string // commit the node is converged to
	full     time.Time
	refused  string // commit known to hold an invalid policy
	refusal  string // the refusal last alerted, so that each is told once
	problem  string // the error last alerted, likewise
	// fault is the source fault being met (faultKey), told once;
	// faultIncident is how status tells it.
	fault         string
	faultIncident *agent.Incident
	status        agent.Status
	written       []byte      // status file as last written
	head          headRollout // the rollout of the head commit
	fetch         deferredFetch
	// rewrite is a head checked out that does not descend from the commit
	// the node ran then (a force-push), told when the node applies it.
	rewrite struct{ commit, previous string }

	// converged says the last pass that looked at the files left them as
	// the policy says (rulekeeper_converged).
	converged bool
}

// pass is the one path every trigger takes: fetch, converge, report. It
// returns when the next poll is due: a time, not a wait, so that however
// long the pass took (a fetch that timed out) the cadence, the back-off
// and a wave's time hold.
func (d *Daemon) pass(ctx context.Context, event bool) time.Time {
	d.passes.Add(1)
	if d.beforePass != nil {
		d.beforePass()
	}
	start := time.Now()
	w := d.work(ctx, event, start)
	return w.at(d.polls.due(start), time.Now())
}

// work is a pass's fetch, converge and report; it returns what the pass
// learnt of its next poll.
func (d *Daemon) work(ctx context.Context, event bool, start time.Time) wakeup {
	ls := &d.loop
	var next wakeup
	defer func() { d.alerts.ObserveNode(ls.converged, ls.status.Commit, ls.status.CommitTime) }()

	rev, changed, serr := d.sync(ctx)
	if ctx.Err() != nil {
		return next
	}
	if serr != nil {
		w, _ := ls.backoff.Failed(serr)
		if !isFault(serr, source.KindSignature) {
			// A refused commit is not the server's fault: poll at the
			// usual pace, so that the next signed commit lands soon.
			next.retry = w
		}
		// One fault is one line, however its text varies from retry to
		// retry (a server going down resets connections, then refuses
		// them); a refused commit is one per commit.
		if key := faultKey(serr); key != ls.fault {
			ls.fault = key
			d.sourceFault(ctx, serr)
		}
	} else if ls.backoff.Succeeded() {
		ls.fault, ls.faultIncident = "", nil
		d.log.Info("policy source reachable again", "commit", rev.Commit)
	}

	if serr == nil && rev.Ahead == "" {
		ls.fetch.since = time.Time{}
	}
	if changed {
		ls.rewrite.commit, ls.rewrite.previous = "", ""
		if rev.Rewritten {
			ls.rewrite.commit, ls.rewrite.previous = rev.Commit, rev.Previous
		}
	}

	dir, commit := rev.Dir, rev.Commit
	if commit != "" && commit == ls.refused || dir == "" {
		dir, commit = d.good()
	}
	if rev.Ahead != "" {
		// The head is still on the server (fetchNow): rev is not the head
		// and is never applied; the node runs what it has. (A failed
		// Sync returns the last revision as it was, Ahead included: the
		// node still knows its checkout is not the head.)
		dir, commit = d.good()
		if serr == nil {
			next.notAfter(ls.fetch.at)
		}
	} else if commit != "" && commit == rev.Commit && commit != ls.commit {
		// A new head waits for the node's wave (and the gate): until then
		// the pass runs the policy the node has.
		if hold, at := d.holdHead(ctx, rev); hold {
			dir, commit = d.good()
			if !at.IsZero() {
				// Every node of a wave computes the same deadline: its
				// offset keeps them from asking the server all at once.
				next.notAfter(at.Add(d.polls.offset))
			}
		}
	}
	if dir == "" {
		ls.converged = false
		err := alert.WithKind("source", errors.New("no policy yet: the source has not delivered a commit"))
		d.alerts.ObservePass("", time.Since(start), 0, err)
		return next
	}

	now := d.snapshot(ls.files)
	edits := ls.seen.edits(now)
	if !ls.seen.baseline() {
		edits = nil
	}
	// Nothing new: no plan. A source that keeps failing does not make a
	// pass either, once the fault was told (sourceFault): the node's files
	// are checked on every edit and every fullEvery all the same.
	if !event && !changed && commit == ls.commit && len(edits) == 0 && time.Since(ls.full) < fullEvery {
		d.alerts.ObservePass(commit, time.Since(start), 0, serr)
		return next
	}

	out, applied, err := d.converge(ctx, dir, commit, len(edits) > 0)
	if errors.Is(err, agent.ErrInvalidPolicy) {
		d.refuse(ctx, commit, dir, out)
		if gdir, gcommit := d.good(); gdir != "" && gdir != dir {
			if d.src != nil {
				ls.refused = commit
			}
			dir, commit = gdir, gcommit
			out, applied, err = d.converge(ctx, dir, commit, len(edits) > 0)
		}
	}
	if ctx.Err() != nil {
		return next
	}
	if err != nil {
		if errors.Is(err, agent.ErrRolledBack) {
			d.alerts.RolledBack(commit)
		}
		ls.converged = false
		d.failed(ctx, err, commit)
		// Edits that break the pass (a rules file that no longer parses)
		// are still told, with their diff.
		d.tellEdits(ctx, nil, edits, false, commit)
		d.alerts.ObservePass(commit, time.Since(start), 0, err)
		return next
	}
	d.log.Debug("pass", "event", event, "commit", commit, "edits", len(edits), "applied", applied, "files", len(out.Plan.Files))
	if serr != nil {
		// The source failed: rev is the last checkout, not the head of the
		// ref, so it neither clears a refusal nor counts as news.
		rev = source.Revision{}
	}
	d.converged(ctx, out, applied, rev, commit, dir, now, edits)
	if serr != nil { // converged with what the node had; the source still failed
		d.alerts.ObservePass(commit, time.Since(start), 0, serr)
		return next
	}
	n := 0
	for _, fc := range out.Plan.Files {
		n += len(fc.Changes)
	}
	if !applied {
		// Drift mode alert left the files: the node stays on the commit
		// it last converged to, whatever commit this pass planned.
		n, commit = 0, ls.commit
	}
	d.alerts.ObservePass(commit, time.Since(start), n, nil)
	return next
}

// sync asks the source for the policy; a local folder is its own revision.
func (d *Daemon) sync(ctx context.Context) (source.Revision, bool, error) {
	if d.src == nil {
		return source.Revision{Dir: d.cfg.PolicyDir}, false, nil
	}
	rev, changed, err := d.src.SyncWith(ctx, source.Poll{Fetch: d.fetchNow, Base: d.loop.commit})
	return rev, changed, alert.WithKind("source", err)
}

// converge runs Converge. In drift mode alert, when rule files were edited,
// it plans first and applies only if the plan restores no managed value.
func (d *Daemon) converge(ctx context.Context, dir, commit string, edited bool) (*agent.Outcome, bool, error) {
	in := agent.Input{PolicyDir: dir, Node: d.node, Reloader: d.Reloader, Reconcile: reconcile.Options{
		Root: d.root, StateDir: d.cfg.StateDir, FalcoBinary: d.falco.Binary,
		FalcoVersion: d.falco.Version, FalcoConfig: d.cfg.Falco.Config, Revision: commit}}
	if d.cfg.Drift.Mode == agent.DriftAlert && edited {
		out, err := agent.Converge(ctx, in)
		if err != nil || hasReason(out.Plan, reconcile.ReasonDrift) {
			return out, false, err
		}
	}
	in.Apply = true
	out, err := agent.Converge(ctx, in)
	if out != nil && out.Reload != nil {
		d.alerts.ObserveReload(string(out.Reload.Method), out.Reload.Took, out.Reload.RolledBack)
	}
	return out, err == nil, err
}

func hasReason(p *reconcile.Plan, reason string) bool {
	for _, fc := range p.Files {
		for _, c := range fc.Changes {
			if c.Reason == reason {
				return true
			}
		}
	}
	return false
}

// converged records a successful pass: reload, alerts, copies, watches, status.
func (d *Daemon) converged(ctx context.Context, out *agent.Outcome, applied bool, rev source.Revision, commit, dir string, now map[string]*seen, edits []edit) {
	ls := &d.loop
	p := out.Plan
	wrote := applied && out.Result != nil && len(out.Result.Written)+len(out.Result.Removed) > 0
	// A force-push is told with the commit it brought, whether or not the
	// node needed a change, when the node applies it (a wave may have held
	// it for a while): someone rewrote the policy's history.
	rewritten := applied && commit != "" && commit == ls.rewrite.commit
	previous := ls.rewrite.previous
	if rewritten {
		ls.rewrite.commit, ls.rewrite.previous = "", ""
	}
	if wrote {
		// Converge reloaded Falco and verified it (a failure rolled back
		// and comes back as ErrRolledBack, reported by the caller).
		ev := alert.Event{Kind: alert.Applied, Commit: commit, Diff: p.Diff(),
			Message: fmt.Sprintf("applied the policy%s: %s", at(commit), strings.Join(append(out.Result.Written, out.Result.Removed...), ", ")),
			Fields:  map[string]string{"reasons": strings.Join(reasonsOf(p), ",")}}
		if rewritten {
			markRewritten(&ev, previous)
		}
		d.alerts.Emit(ctx, ev)
		ls.status.AppliedAt = time.Now().UTC()
		ls.status.Applied = append(out.Result.Written, out.Result.Removed...)
	} else if rewritten {
		ev := alert.Event{Kind: alert.Applied, Commit: commit,
			Message: fmt.Sprintf("now at commit %s; the rule files needed no change", commit)}
		markRewritten(&ev, previous)
		d.alerts.Emit(ctx, ev)
	}

	edits = append(edits, d.newFiles(p, now)...)
	fresh := d.tellEdits(ctx, p, edits, applied, commit)

	files := p.RulesFiles()
	if applied {
		// The converged files: what this pass wrote, else what it compared;
		// whole for the files rulekeeper manages, by their hash for the
		// others.
		next := map[string]*seen{}
		for _, f := range ls.seen.paths() {
			next[f] = nil
		}
		for _, f := range files {
			o, ok := now[f]
			if !ok || (o != nil && o.Data == nil && p.Manages(f)) {
				o = observe(d.root, f, p.Manages(f))
			}
			if o != nil && !p.Manages(f) {
				o = &seen{Sum: o.Sum, Size: o.Size}
			}
			next[f] = o
		}
		for _, fc := range p.Files {
			next[fc.Path] = nil
			if fc.Action != reconcile.Delete {
				next[fc.Path] = seenOf(nonNil(fc.New))
			}
		}
		if err := ls.seen.replace(next); err != nil {
			d.log.Error("keeping copies of the rule files", "error", err)
		}
		ls.reported = nil
		ls.commit = commit
		ls.converged = true
		ls.full = time.Now()
		ls.status.ConvergedAt = ls.full.UTC()
		// A source that fails still is the incident, as told when it began
		// (a retry rewrites nothing); the status file never shows it gone
		// while it lasts.
		ls.status.LastError = ls.faultIncident
		ls.problem = ""
		if commit != "" && commit != ls.status.Commit {
			ls.status.Commit, ls.status.CommitTime = commit, time.Time{}
		}
		if commit != "" && commit == rev.Commit && !rev.Time.IsZero() {
			ls.status.CommitTime = rev.Time
		}
		if commit == rev.Commit && dir == rev.Dir {
			ls.status.Refused = nil
			ls.refusal = ""
			if err := d.keepGood(dir, commit); err != nil {
				d.log.Error("keeping a copy of the good policy", "error", err)
			}
		}
	} else {
		// Drift mode alert left drift in place: only a plan with drift
		// is not applied (converge).
		ls.converged = false
		if len(fresh) > 0 {
			d.log.Warn("drift mode alert: the rule files are left as they are; put them back or switch drift mode to restore", "files", len(p.Files))
		}
	}
	ls.files = files
	d.watch(files)
	ls.status.ReloadMethod = d.ReloadMethod
	d.saveStatus()
}

// newFiles lists the rules files of the plan that the converged state did
// not have and the plan does not write: files someone added to a rules
// folder (a drop-in in rules.d that disables a rule). The snapshot could
// not look at them: only the plan knows them.
func (d *Daemon) newFiles(p *reconcile.Plan, now map[string]*seen) []edit {
	if !d.loop.seen.baseline() {
		return nil
	}
	planned := map[string]bool{}
	for _, fc := range p.Files {
		planned[fc.Path] = true
	}
	var out []edit
	for _, f := range p.RulesFiles() {
		if _, ok := now[f]; ok || planned[f] {
			continue
		}
		if o := observe(d.root, f, p.Manages(f)); o != nil {
			now[f] = o
			out = append(out, edit{Path: f, Now: o})
		}
	}
	return out
}

// snapshot looks at the rule files (nil: missing) of the last plan and
// those the agent remembers: whole where it keeps copies, else by hash.
func (d *Daemon) snapshot(files []string) map[string]*seen {
	now := map[string]*seen{}
	look := func(f string) {
		if _, ok := now[f]; !ok {
			now[f] = observe(d.root, f, d.loop.seen.kept(f))
		}
	}
	for _, f := range files {
		look(f)
	}
	for _, f := range d.loop.seen.paths() {
		look(f)
	}
	return now
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// watch points the watcher at the rule files' directories, whole, so that
// a file added to them (a rules.d drop-in that disables a rule) is seen too.
func (d *Daemon) watch(files []string) {
	var paths []string
	for _, f := range files {
		paths = append(paths, hostPath(d.root, filepath.Dir(f))+"/")
	}
	// Falco loads rules.d beside its config by default, even while empty.
	if rd := hostPath(d.root, filepath.Join(filepath.Dir(d.cfg.Falco.Config), "rules.d")); isDir(rd) {
		paths = append(paths, rd+"/")
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if slices.Equal(paths, d.loop.watched) {
		return
	}
	if err := d.watcher.SetFiles(paths); err != nil {
		d.log.Error("watching the rule files", "error", err)
		return
	}
	d.loop.watched = paths
	// An edit made before the new watches were in place would go unseen
	// until the next poll: look once more.
	d.Trigger()
}

var hostPath = noderoot.Join

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// redactURL drops user info from a URL for status and logs.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return raw
}
