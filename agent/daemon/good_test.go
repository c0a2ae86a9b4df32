package daemon

import (
	"context"
	"os"
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
	l.commit("policy.hcl", replaceOnce(t, examText(t), "user_id=%user.uid", "user_id=%user.uidd"))
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
