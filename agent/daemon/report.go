package daemon

// Reporting: what a pass found and did, told once through the alerter and
// the status file.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/agent/alert"
	"github.com/rulekeeper/rulekeeper/agent/source"
	"github.com/rulekeeper/rulekeeper/policy"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// tellEdits alerts on the edits found before the pass, each once: an edit
// left in place (mode alert, a pass that failed) is seen again by every
// pass until someone puts the file back or a pass converges.
func (d *Daemon) tellEdits(ctx context.Context, p *reconcile.Plan, edits []edit, applied bool, commit string) []edit {
	ls := &d.loop
	var fresh []edit
	for _, e := range edits {
		if prev, ok := ls.reported[e.Path]; !ok || !prev.same(e.Now) {
			fresh = append(fresh, e)
		}
	}
	for _, ev := range classify(p, fresh, applied) {
		ev.Commit = commit
		d.alerts.Emit(ctx, ev)
		inc := &agent.Incident{Time: time.Now().UTC(), Kind: string(ev.Kind), File: ev.File, Rule: ev.Rule, Message: ev.Message}
		switch ev.Kind {
		case alert.Drift:
			ls.status.LastDrift = inc
		case alert.Tamper:
			ls.status.LastTamper = inc
		}
	}
	if !applied {
		if ls.reported == nil {
			ls.reported = map[string]*seen{}
		}
		for _, e := range edits {
			ls.reported[e.Path] = e.Now
		}
	}
	if len(fresh) > 0 {
		d.saveStatus()
	}
	return fresh
}

func at(commit string) string {
	if commit == "" {
		return ""
	}
	return " at commit " + commit
}

func reasonsOf(p *reconcile.Plan) []string {
	var out []string
	for _, fc := range p.Files {
		for _, c := range fc.Changes {
			if !slices.Contains(out, c.Reason) {
				out = append(out, c.Reason)
			}
		}
	}
	return out
}

// markRewritten says in an applied event that its commit does not descend
// from the one applied before: the ref was force-pushed.
func markRewritten(ev *alert.Event, previous string) {
	ev.Priority = "Warning"
	ev.Message += fmt.Sprintf("; history was rewritten: the ref was force-pushed over commit %s", previous)
	if ev.Fields == nil {
		ev.Fields = map[string]string{}
	}
	ev.Fields["history_rewritten"], ev.Fields["previous"] = "true", previous
}

// faultText is a source error as operators read it: the fault's own text
// (kind first), without the metric label wrapped around it.
func faultText(err error) string {
	var f *source.Fault
	if errors.As(err, &f) {
		return f.Error()
	}
	return err.Error()
}

// faultKey tells faults apart for reporting: by kind, and by commit for
// a refused one.
func faultKey(err error) string {
	var f *source.Fault
	if errors.As(err, &f) {
		return string(f.Kind) + "\x00" + f.Commit
	}
	return err.Error()
}

func isFault(err error, k source.Kind) bool {
	var f *source.Fault
	return errors.As(err, &f) && f.Kind == k
}

// sourceFault reports a source fault; the caller calls it once per fault
// (faultKey), not once per retry.
func (d *Daemon) sourceFault(ctx context.Context, err error) {
	ev := alert.Event{Kind: alert.Error, Message: "policy source: " + faultText(err) + "; the node keeps its last applied state"}
	var f *source.Fault
	if errors.As(err, &f) {
		ev.Fields = map[string]string{"fault": string(f.Kind)}
		if f.Kind == source.KindSignature {
			ev.Kind, ev.Commit = alert.Refused, f.Commit
			ev.Message = fmt.Sprintf("commit %s is not signed by a trusted key: not applied; the node keeps its last good state", f.Commit)
			d.loop.status.Refused = &agent.Incident{Time: time.Now().UTC(), Kind: "signature", Commit: f.Commit, Message: ev.Message}
		}
	}
	d.alerts.Emit(ctx, ev)
	d.loop.faultIncident = &agent.Incident{Time: time.Now().UTC(), Kind: "source", Message: incidentText(faultText(err))}
	d.loop.status.LastError = d.loop.faultIncident
	d.saveStatus()
}

// refuse reports a policy with errors, once per commit and set of errors.
func (d *Daemon) refuse(ctx context.Context, commit, dir string, out *agent.Outcome) {
	var b bytes.Buffer
	if out != nil {
		_ = policy.WriteDiagnostics(&b, out.Files, out.Diags, false, 0)
	}
	// Name the files as they are in the repository, not in the checkout.
	diags := strings.ReplaceAll(b.String(), dir+string(filepath.Separator), "")
	key := "refused\x00" + commit + "\x00" + diags
	if d.loop.refusal == key {
		return
	}
	d.loop.refusal = key
	// The message carries the reason: under systemd it is the one text
	// `journalctl -u rulekeeper` shows.
	msg := fmt.Sprintf("the policy%s has errors: nothing from it was applied; the node keeps its last good state: %s", at(commit), diagsLine(out, dir))
	d.alerts.Emit(ctx, alert.Event{Kind: alert.Refused, Commit: commit, Message: msg,
		Fields: map[string]string{"diagnostics": strings.TrimSpace(diags)}})
	d.loop.status.Refused = &agent.Incident{Time: time.Now().UTC(), Kind: "policy", Commit: commit, Message: incidentText(msg + "\n" + diags)}
	d.saveStatus()
}

// diagsLine tells a policy's errors on one line, the first few of them in
// full (file and line, what is wrong, the path and OS error where there is
// one).
func diagsLine(out *agent.Outcome, dir string) string {
	const shown = 3
	var parts []string
	n := 0
	if out != nil {
		for _, dg := range out.Diags {
			if dg.Severity != hcl.DiagError {
				continue
			}
			if n++; n > shown {
				continue
			}
			s := dg.Summary
			if dg.Detail != "" {
				s += ": " + dg.Detail
			}
			if r := dg.Subject; r != nil {
				s = fmt.Sprintf("%s:%d: %s", strings.TrimPrefix(r.Filename, dir+string(filepath.Separator)), r.Start.Line, s)
			}
			parts = append(parts, strings.Join(strings.Fields(s), " "))
		}
	}
	if n > shown {
		parts = append(parts, fmt.Sprintf("and %d more errors", n-shown))
	}
	if len(parts) == 0 {
		return "no error was recorded"
	}
	return strings.Join(parts, "; ")
}

// failed reports a failed pass, once per distinct error.
func (d *Daemon) failed(ctx context.Context, err error, commit string) {
	if errors.Is(err, agent.ErrInvalidPolicy) {
		return // told by refuse
	}
	if errors.Is(err, reconcile.ErrRefused) && d.loop.status.LastError != nil && d.loop.status.LastError.Kind == "rollback" {
		// The change a rollback took back, asked for again (the rollback's
		// own writes are a trigger): the rollback, told already, is the
		// incident until the policy changes.
		return
	}
	key := "error\x00" + err.Error()
	if d.loop.problem == key {
		return
	}
	d.loop.problem = key
	kind, incident := alert.Error, "reconcile"
	inc := &agent.Incident{Time: time.Now().UTC(), Kind: incident, Message: incidentText(err.Error())}
	ev := alert.Event{Kind: kind, Commit: d.loop.commit, Message: "pass failed: " + err.Error() + "; the node keeps its last good state"}
	if errors.Is(err, agent.ErrRolledBack) {
		ev.Kind, inc.Kind, inc.Commit = alert.Rollback, "rollback", commit
		ev.Fields = map[string]string{"rolled_back_commit": commit}
	}
	d.alerts.Emit(ctx, ev)
	d.loop.status.LastError = inc
	d.saveStatus()
}

// incidentText bounds what the status file keeps of an incident, as alerts
// are bounded: a policy with a thousand errors makes no megabyte status.
func incidentText(s string) string { return alert.CapText(s, 8<<10) }

func (d *Daemon) saveStatus() {
	b, _ := jsonMarshal(d.loop.status)
	if bytes.Equal(b, d.loop.written) {
		return
	}
	if err := d.loop.status.Write(d.stateDir); err != nil {
		d.log.Error("writing the status file", "error", err)
		return
	}
	d.loop.written = b
}
