package daemon

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/agent"
)

// rulekeeper_changes_total counts the values a pass changed: the policy's
// first apply, a restore; not a pass with nothing to do, nor drift left in
// place (mode alert). A pass that fails counts as an error, by its kind.
func TestPassMetricsCountChanges(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{agent.DriftRestore, agent.DriftAlert} {
		l := newLab(t, labOpts{mode: mode, local: true, interval: "1h", extra: "metrics { listen = \"127.0.0.1:0\" }\n"})
		d, err := New(l.config(), Options{Root: l.root})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(d.Handler())
		m := metricsAt(strings.TrimPrefix(srv.URL, "http://"))
		ctx := context.Background()
		check := func(when string, changes, ok, failed float64) {
			t.Helper()
			if got := m.value(t, "rulekeeper_changes_total"); got != changes {
				t.Errorf("%s, %s: %v changes counted, want %v", mode, when, got, changes)
			}
			if got := m.value(t, "rulekeeper_passes_total", "result", "success"); got != ok {
				t.Errorf("%s, %s: %v passes counted a success, want %v", mode, when, got, ok)
			}
			if failed > 0 {
				if got := m.value(t, "rulekeeper_passes_total", "result", "error"); got != failed {
					t.Errorf("%s, %s: %v passes counted an error, want %v", mode, when, got, failed)
				}
			}
		}

		d.pass(ctx, false)
		check("the first apply", 1, 1, 0)
		d.pass(ctx, true)
		check("a pass with nothing to change", 1, 2, 0)
		converged := l.rules()
		l.writeRules("in place", replaceOnce(t, converged, "NEW SHELL!!!", "OLD SHELL"))
		d.pass(ctx, true)
		if mode == agent.DriftRestore {
			check("a restore", 2, 3, 0)
		} else {
			check("drift left in place", 1, 3, 0)
		}
		l.writeRules("in place", "- rule: [broken\n")
		d.pass(ctx, true)
		check("a rules file that does not parse", map[string]float64{agent.DriftRestore: 2, agent.DriftAlert: 1}[mode], 3, 1)
		if got := m.value(t, "rulekeeper_errors_total", "kind", "other"); got != 1 {
			t.Errorf("%s: %v errors of kind other counted, want 1", mode, got)
		}
		// A failed pass is no rollback: no commit is named as rolled back.
		if n := m.series(t, "rulekeeper_rollback_commit_info"); n != 0 {
			t.Errorf("%s: a failed pass named %d rolled-back commits", mode, n)
		}
		if err := d.alerts.Close(ctx); err != nil {
			t.Fatal(err)
		}
		// A local policy folder has no commit to name.
		if e := l.hook.events("applied"); len(e) == 0 || !strings.HasSuffix(e[0].Output, "applied the policy: "+rulesPath) {
			t.Errorf("%s: applied alerts %s", mode, l.hook.dump())
		}
		srv.Close()
		closeIdle(d)
	}
}
