package daemon

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/agent"
)

// A pass that only removes a file (the policy no longer needs its override
// file) is a change like any other: told as applied, naming the file, and
// in status.
func TestRemovalOnlyIsApplied(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	l.commit("policy.hcl", replaceOnce(t, examText(t), `strategy = "in_place"`, `strategy = "override"`))
	d.pass(ctx, false)
	written := d.loop.status.Applied
	if len(written) != 1 {
		t.Fatalf("the override policy wrote %v, want its override file", written)
	}
	l.commit("policy.hcl", "falco {\n  strategy = \"override\"\n}\n")
	d.pass(ctx, true)
	if err := d.alerts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.host(written[0])); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the override file is still there: %v", err)
	}
	applied := l.hook.events("applied")
	if len(applied) != 2 || !strings.Contains(applied[1].Output, written[0]) || !slices.Equal(d.loop.status.Applied, written) {
		t.Errorf("the removal: status applied %v, alerts:\n%s", d.loop.status.Applied, l.hook.dump())
	}
}

// A rules file that falco.yaml lists goes missing (an operator deletes
// falco_rules.local.yaml): that is told, the node still converges, and the
// file, when it comes back, is told as a new rules file.
func TestListedRulesFileMissing(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	const local = "/etc/falco/falco_rules.local.yaml"
	d := l.idleDaemon()
	ctx := context.Background()
	d.pass(ctx, false)
	if err := os.Remove(l.host(local)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		d.pass(ctx, true)
		if !d.loop.converged || !strings.Contains(l.rules(), examLine) {
			t.Fatal("the node is not converged without falco_rules.local.yaml")
		}
	}
	if err := os.WriteFile(l.host(local), []byte("- rule: "+examRule+"\n  enabled: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.pass(ctx, true)
	if err := d.alerts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tamper := l.hook.events("tamper")
	if len(tamper) != 2 || tamper[0].f("file") != local || !strings.Contains(tamper[0].Output, "the rules file was removed") ||
		tamper[1].f("file") != local || !strings.Contains(tamper[1].Output, "a new rules file") {
		t.Errorf("want %s told gone, then new:\n%s", local, l.hook.dump())
	}
}

// A file the policy comes to manage without the pass writing it (its
// values already hold) is kept whole from then on: a later edit of it is
// told with a diff.
func TestNewlyManagedFileKeptWhole(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	d.pass(ctx, false)
	converged := l.rules()
	exam := examText(t)
	l.commit("policy.hcl", "falco {\n  strategy = \"in_place\"\n}\n") // manages nothing: the vendor's text comes back
	d.pass(ctx, false)
	if l.rules() == converged {
		t.Fatal("a policy managing nothing left the exam's output in place")
	}
	l.writeRules("in place", converged) // the exam's value by hand
	d.pass(ctx, true)
	l.commit("policy.hcl", exam) // the values already hold: nothing to write
	d.pass(ctx, false)
	l.writeRules("in place", replaceOnce(t, l.rules(), sshCond, "  condition: never_true\n"))
	d.pass(ctx, true)
	if err := d.alerts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(l.hook.events("applied")); n != 2 {
		t.Fatalf("%d applied alerts, want 2 (the exam's output, then the vendor's back): the last commit wrote:\n%s", n, l.hook.dump())
	}
	tamper := l.hook.events("tamper")
	if len(tamper) == 0 || !strings.Contains(tamper[len(tamper)-1].f("diff"), "+  condition: never_true") {
		t.Errorf("the edit of the newly managed file is not told with its diff:\n%s", l.hook.dump())
	}
}

// A file the policy no longer manages is no longer kept whole: a later
// edit of it is told by its size and hash, without a diff.
func TestUnmanagedFileNoLongerKept(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{mode: agent.DriftAlert, interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	vendor := l.rules()
	d.pass(ctx, false)
	l.writeRules("in place", vendor) // the exam's output taken out by hand: told, not put back
	d.pass(ctx, true)
	l.commit("policy.hcl", "falco {\n  strategy = \"in_place\"\n}\n") // manages nothing, and nothing to write
	d.pass(ctx, false)
	l.writeRules("in place", replaceOnce(t, vendor, sshCond, "  condition: never_true\n"))
	d.pass(ctx, true)
	if err := d.alerts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tamper := l.hook.events("tamper")
	if len(tamper) == 0 || tamper[len(tamper)-1].f("diff") != "" || !strings.Contains(tamper[len(tamper)-1].Output, "keeps no copy") {
		t.Errorf("the edit of a file no longer managed is told with a copy kept:\n%s", l.hook.dump())
	}
}

// In drift mode alert the log warns that drift is left in place once per
// edit that brings drift, not at every pass after it, and not for an edit
// outside the managed values (nothing there is rulekeeper's to put back).
func TestDriftAlertWarnsOnce(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{mode: agent.DriftAlert, interval: "1h"})
	msgs := &messages{next: testLog(t).Handler()}
	d, err := New(l.config(), Options{Root: l.root, Log: slog.New(msgs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeIdle(d) })
	warnings := func() int {
		msgs.mu.Lock()
		defer msgs.mu.Unlock()
		n := 0
		for _, m := range msgs.msgs {
			if strings.HasPrefix(m, "drift mode alert: the rule files are left as they are") {
				n++
			}
		}
		return n
	}
	ctx := context.Background()
	d.pass(ctx, false)
	tampered := replaceOnce(t, l.rules(), sshCond, "  condition: never_true\n")
	l.writeRules("in place", tampered)
	d.pass(ctx, true)
	if n := warnings(); n != 0 {
		t.Errorf("an edit outside the managed values: %d warnings of drift left in place", n)
	}
	l.writeRules("in place", replaceOnce(t, tampered, "NEW SHELL!!!", "OLD SHELL"))
	for range 3 {
		d.pass(ctx, true)
	}
	if n := warnings(); n != 1 {
		t.Errorf("drift, then three passes: %d warnings of drift left in place, want 1", n)
	}
}

// An edit that breaks the pass (a rules file that no longer parses) is
// told, and `status` shows it: the status file is written by the pass
// that failed.
func TestEditThatBreaksThePassInStatus(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	d.pass(ctx, false)
	l.writeRules("in place", l.rules()+"- rule: [broken\n")
	d.pass(ctx, true)
	if d.loop.converged {
		t.Fatal("a rules file that does not parse: the pass converged")
	}
	st, err := agent.ReadStatus(l.host("/var/lib/rulekeeper"))
	if err != nil || st.LastTamper == nil || st.LastTamper.File != rulesPath {
		t.Errorf("the status file does not show the edit: %+v (%v)", st, err)
	}
}

// In drift mode alert, while drift is left in place the store is not
// updated: a rules file added meanwhile is still not in it, and each later
// edit of that file is told too, not only its arrival.
func TestDriftAlertTellsEachEditOfANewFile(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{mode: agent.DriftAlert, interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	d.pass(ctx, false)
	l.writeRules("in place", replaceOnce(t, l.rules(), "NEW SHELL!!!", "OLD SHELL"))
	d.pass(ctx, true)
	if d.loop.converged {
		t.Fatal("drift mode alert: drift of a managed value was put back")
	}
	const dropIn = "/etc/falco/rules.d/50-site.yaml"
	for _, body := range []string{"- rule: " + examRule + "\n  enabled: false\n", "- rule: " + examRule + "\n  enabled: true\n"} {
		if err := os.WriteFile(l.host(dropIn), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		d.pass(ctx, true)
	}
	if err := d.alerts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var told int
	for _, e := range l.hook.events("tamper") {
		if e.f("file") == dropIn {
			told++
		}
	}
	if told != 2 {
		t.Errorf("%s added, then edited, while drift is left: told %d times, want 2:\n%s", dropIn, told, l.hook.dump())
	}
}
