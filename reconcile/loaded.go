package reconcile

import (
	"maps"
	"slices"
)

// RulesFiles lists, sorted, every rules file the plan read (node paths): the
// files Falco loads and the files rulekeeper managed before. The agent
// watches them and keeps the copies it compares edits against.
func (p *Plan) RulesFiles() []string {
	return slices.Sorted(maps.Keys(p.cur))
}

// Manages tells whether rulekeeper manages a file once the plan is applied:
// the file holds values of the policy, or rulekeeper writes it whole. The
// agent keeps copies of these files only, to show their edits as diffs.
func (p *Plan) Manages(path string) bool {
	return p.next != nil && p.next.Files[path] != nil
}
