package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/agent"
)

// With a local policy folder (no commits), the last good policy is the
// last one that converged the node, file for file (a file removed from the
// folder goes from the copy too): after an edit of the policy and then an
// edit that breaks it, drift is put back with the edited policy, not the
// first one.
func TestLocalPolicyKeepsLastGood(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	l.commit("extra.hcl", "# a second file of the policy\n")
	d.pass(ctx, false)
	if err := os.Remove(l.repo + "/extra.hcl"); err != nil {
		t.Fatal(err)
	}
	d.pass(ctx, true)
	if dir, _ := d.good(); dir == "" {
		t.Fatal("no good policy kept")
	} else if _, err := os.Stat(dir + "/extra.hcl"); err == nil {
		t.Fatal("the good policy kept a file the policy folder no longer has")
	}
	l.commit("policy.hcl", examPolicy(t, "SECOND SHELL!!!"))
	d.pass(ctx, true)
	converged := l.rules()
	if !strings.Contains(converged, "    SECOND SHELL!!! user_id") {
		t.Fatal("the edited policy was not applied")
	}
	if dir, _ := d.good(); dir == "" {
		t.Fatal("no good policy kept")
	} else if b, err := os.ReadFile(dir + "/policy.hcl"); err != nil || !strings.Contains(string(b), "SECOND SHELL!!!") {
		t.Fatalf("the good policy kept is not the edited one: %v\n%s", err, b)
	}

	l.commit("policy.hcl", strings.Replace(examPolicy(t, "THIRD SHELL!!!"), "user_id=%user.uid", "user_id=%user.uidd", 1))
	l.writeRules("in place", replaceOnce(t, converged, "SECOND SHELL!!!", "OLD SHELL"))
	d.pass(ctx, true)
	if l.rules() != converged {
		t.Errorf("with a broken policy, drift was not put back by the last good one:\n%s", grepLines(l.rules(), "SHELL"))
	}
	if st := d.loop.status; st.Refused == nil || !strings.Contains(st.Refused.Message, "user.uidd") {
		t.Errorf("status does not tell the refused policy: %+v", st.Refused)
	}
}

// The good copy names the commit that converged the node, also when a
// commit changed nothing of the policy's files.
func TestGoodCommitFollowsHead(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	d.pass(ctx, false)
	head := l.commit("NOTES.md", "not a policy file\n")
	d.pass(ctx, true)
	if _, c := d.good(); c != head {
		t.Errorf("the good policy is of commit %s, want the head %s", c, head)
	}
}

// In drift mode alert a hand edit of a managed value is told, not put
// back, also by the pass that refuses a new commit and runs the last good
// policy in its place.
func TestDriftAlertWhenACommitIsRefused(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{mode: agent.DriftAlert, interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	d.pass(ctx, false)
	drifted := replaceOnce(t, l.rules(), "NEW SHELL!!!", "OLD SHELL")
	policy, err := os.ReadFile(examDir + "/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	l.commit("policy.hcl", replaceOnce(t, string(policy), "user_id=%user.uid", "user_id=%user.uidd"))
	l.writeRules("in place", drifted)
	d.pass(ctx, true)
	if l.rules() != drifted {
		t.Fatal("mode alert put a hand edit back on the pass that refused a commit")
	}
	if err := d.alerts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(l.hook.events("refused")) != 1 || len(l.hook.events("drift")) != 1 || l.hook.events("drift")[0].f("restored") != "false" {
		t.Errorf("want the refusal and the drift, not restored, told:\n%s", l.hook.dump())
	}
}

// A pass that only removes a file (the policy no longer needs its override
// file) is a change like any other: told as applied, naming the file, and
// in status.
func TestRemovalOnlyIsApplied(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{interval: "1h"})
	d := l.idleDaemon()
	ctx := context.Background()
	policy, err := os.ReadFile(examDir + "/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	l.commit("policy.hcl", replaceOnce(t, string(policy), `strategy = "in_place"`, `strategy = "override"`))
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
