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
