package daemon

import (
	"context"
	"os"
	"strings"
	"testing"
)

// With a local policy folder (no commits), the last good policy is the
// last one that converged the node: after an edit of the policy and then
// an edit that breaks it, drift is put back with the edited policy, not
// the first one.
func TestLocalPolicyKeepsLastGood(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	d, err := New(l.config(), Options{Root: l.root})
	if err != nil {
		t.Fatal(err)
	}
	defer d.lock.Close()
	defer d.watcher.Close()
	ctx := context.Background()
	d.pass(ctx, false)
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
