package daemon

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/rulekeeper/rulekeeper/agent/alert"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// classify turns the edits found before a pass into alerts, using the plan
// the pass made:
//   - a change of the plan with Reason drift is a managed value changed:
//     drift, one event per value;
//   - a file whose plan has Reason upgrade is a new vendor file: the policy
//     goes back on top of it, an applied event says so;
//   - whatever else differs from the agent's copy once the plan's edits are
//     made is tampering, reported with a diff: rulekeeper has no value of
//     its own to put back there.
//
// restored says whether the plan was applied (mode restore) or only made.
func classify(p *reconcile.Plan, edits []edit, restored bool) []alert.Event {
	byPath := map[string]*reconcile.FileChange{}
	if p != nil {
		for _, fc := range p.Files {
			byPath[fc.Path] = fc
		}
	}
	var evs []alert.Event
	for _, e := range edits {
		fc := byPath[e.Path]
		after := e.Now
		if fc != nil {
			if fc.Action == reconcile.Delete {
				after = nil
			} else {
				after = seenOf(fc.New)
			}
			if upgraded(fc) {
				evs = append(evs, alert.Event{Kind: alert.Applied, File: e.Path,
					Message: fmt.Sprintf("%s was replaced by a new vendor file (a Falco package upgrade): the policy %s on top of it", e.Path, verb(restored, "was re-applied", "is to be re-applied")),
					Fields:  map[string]string{"reason": reconcile.ReasonUpgrade}})
				continue
			}
			for _, c := range fc.Changes {
				if c.Reason != reconcile.ReasonDrift {
					continue
				}
				evs = append(evs, alert.Event{Kind: alert.Drift, File: e.Path, Rule: c.Rule,
					Old: c.New, New: c.Old,
					Message: fmt.Sprintf("%s of %s %q in %s was changed outside rulekeeper: %s", c.Field, cmp.Or(c.Kind, "rule"), c.Rule, e.Path,
						verb(restored, "restored to the policy's value", "not restored (drift mode alert)")),
					Fields: map[string]string{"field": c.Field, "restored": fmt.Sprint(restored)}})
			}
		}
		if e.Before.same(after) {
			continue
		}
		ev := alert.Event{Kind: alert.Tamper, File: e.Path,
			Message: fmt.Sprintf("%s was changed outside rulekeeper, outside the values the policy manages: %s; nothing was put back", e.Path, what(e.Before, after))}
		if known(e.Before) && known(after) {
			ev.Diff = fileDiff(e.Path, data(e.Before), data(after))
		} else if e.Before != nil && after != nil {
			ev.Message = fmt.Sprintf("%s was changed outside rulekeeper (%s); nothing was put back", e.Path, sizeChange(e.Before, after))
		}
		evs = append(evs, ev)
	}
	return evs
}

func upgraded(fc *reconcile.FileChange) bool {
	return slices.ContainsFunc(fc.Changes, func(c reconcile.Change) bool { return c.Reason == reconcile.ReasonUpgrade })
}

func verb(done bool, yes, no string) string {
	if done {
		return yes
	}
	return no
}

func what(before, after *seen) string {
	switch {
	case before == nil:
		return "a new rules file"
	case after == nil:
		return "the rules file was removed"
	}
	return "see the diff"
}

// known tells whether an observation's content is at hand for a diff: a
// missing file's (nothing) or a kept one's.
func known(s *seen) bool { return s == nil || s.Data != nil }

func data(s *seen) []byte {
	if s == nil {
		return nil
	}
	return s.Data
}
