package reconcile

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// found is a managed value as it stands in the file now.
type found struct {
	Value
	item int
	reg  region
	cur  string
	at   bool // the rule is still defined in the file
	ok   bool // ... and, for a key rulekeeper inserted, the key is still there
}

// managed finds where rulekeeper's values stand in the file now, and
// whether this is still the file rulekeeper wrote (drift is put back) or a
// new vendor file: one that carries none of its values and differs outside
// them (a package upgrade; the policy is applied on top of it).
func (rf *rulesFile) managed(prev *FileState) (olds []found, upgrade bool, err error) {
	if prev == nil {
		return nil, false, nil
	}
	parsed := map[int]*yaml.Node{}
	var spans [][2]int
	carries, informative := false, false
	for _, v := range prev.Values {
		f := found{Value: v}
		if i, ok := rf.lastDef(v.Kind, v.Rule); ok {
			it := rf.items[i]
			m, ok := parsed[i]
			if !ok {
				if m, err = rf.alone(i); err != nil {
					return nil, false, err
				}
				parsed[i] = m
			}
			reg, err := locateManaged(rf.data[it.start:it.end], m, v.Field, v.Absent)
			if err != nil {
				return nil, false, fmt.Errorf("%s:%d: rule %q: %w", rf.path, it.line, v.Rule, err)
			}
			f.item, f.reg, f.at, f.ok = i, reg, true, !(v.Absent && reg.absent)
			f.cur = string(rf.data[it.start+reg.start : it.start+reg.end])
			spans = append(spans, [2]int{it.start + reg.start, it.start + reg.end})
		}
		if v.Original != v.Written {
			informative = true
			carries = carries || (f.ok && f.cur == v.Written)
		}
		olds = append(olds, f)
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a][0] < spans[b][0] })
	upgrade = sumOutside(rf.data, spans) != prev.Outside && (!carries || !informative)
	return olds, upgrade, nil
}

// restoreEdits put the vendor's values back into item i, and name the
// fields whose value on disk is not what rulekeeper wrote (drift).
func restoreEdits(olds []found, i int) (restore []edit, drifted []string) {
	for _, f := range olds {
		switch {
		case !f.at || f.item != i:
		case f.ok || !f.Absent:
			orig := f.Original
			if f.reg.absent { // the key itself was removed
				orig = "\n" + strings.Repeat(" ", f.reg.keyCol) + f.Field + ": " + orig
			}
			restore = append(restore, edit{f.reg.start, f.reg.end, orig})
			if f.cur != f.Written {
				drifted = append(drifted, f.Field)
			}
		default:
			// The line rulekeeper inserted was removed: the item is the
			// vendor's already, but it drifted from what was written.
			drifted = append(drifted, f.Field)
		}
	}
	return restore, drifted
}

// locateManaged finds a managed value; for a key rulekeeper inserted, the
// region covers the whole inserted line, so that restoring removes it.
func locateManaged(text []byte, m *yaml.Node, field string, inserted bool) (region, error) {
	reg, err := locate(text, m, field)
	if err != nil || !inserted || reg.absent {
		return reg, err
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != field {
			continue
		}
		starts := lineStarts(text)
		if !reg.flow {
			reg.start = starts[m.Content[i].Line-1] - 1
			continue
		}
		// `, key: value` as the insertion wrote it
		k := nodeOffset(text, starts, m.Content[i])
		for k > 0 && text[k-1] == ' ' {
			k--
		}
		if k > 0 && text[k-1] == ',' {
			k--
		}
		reg.start = k
	}
	return reg, nil
}
