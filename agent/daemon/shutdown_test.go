package daemon

import (
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/agent/alert"
)

// An alert still on its way when the daemon stops is delivered before Run
// returns, so the last change of a node that shuts down is not lost; a
// receiver that never answers holds the shutdown 5 s at most.
func TestShutdownDeliversQueuedAlerts(t *testing.T) {
	t.Parallel()
	t.Run("slow receiver", func(t *testing.T) {
		t.Parallel()
		l := newLab(t, labOpts{})
		l.hook.slow(time.Second)
		l.start()
		<-l.d.Ready() // the first pass applied the policy: its alert is on its way
		l.stop()
		if len(l.hook.events(string(alert.Applied))) != 1 {
			t.Fatalf("the applied alert was not delivered at shutdown; got:\n%s", l.hook.dump())
		}
	})
	t.Run("receiver that never answers", func(t *testing.T) {
		t.Parallel()
		l := newLab(t, labOpts{})
		l.hook.slow(time.Hour)
		l.start()
		<-l.d.Ready()
		start := time.Now()
		l.stop()
		if took := time.Since(start); took > 7*time.Second {
			t.Fatalf("shutdown took %v with a receiver that never answers, want about 5s", took)
		}
	})
}
