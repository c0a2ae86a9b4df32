package reconcile

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
)

// rulesFile is one loaded rules file, cut into its items.
type rulesFile struct {
	path  string
	data  []byte
	items []item
}

func loadRulesFiles(paths []string, data map[string][]byte) (map[string]*rulesFile, error) {
	out := map[string]*rulesFile{}
	for _, p := range paths {
		rf, err := cutFile(p, data[p])
		if err != nil {
			return nil, err
		}
		out[p] = rf
	}
	return out, nil
}

func cutFile(p string, data []byte) (*rulesFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &rulesFile{path: p, data: data}, nil
	}
	items, err := cutItems(data)
	if err != nil {
		if items, err = itemsByFullParse(data); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return &rulesFile{path: p, data: data, items: items}, nil
}

// def is where a rule is defined: the item Falco uses.
type def struct {
	file string
	item int
}

// findRules finds, for every desired rule, its last full definition across
// the files in load order: in Falco a later definition replaces an earlier
// one, while `append: true` and `override:` entries only amend it.
func findRules(rules []policy.Rule, files map[string]*rulesFile, order, missing []string) (map[string]def, error) {
	want := map[string]bool{}
	for _, r := range rules {
		want[r.Name] = true
	}
	found := map[string]def{}
	for _, p := range order {
		rf := files[p]
		for i, it := range rf.items {
			if it.kind != "rule" || !want[it.name] {
				continue
			}
			amends, err := rf.amends(i)
			if err != nil {
				return nil, err
			}
			if !amends {
				found[it.name] = def{file: p, item: i}
			}
		}
	}
	var errs []string
	var empty []string
	for _, p := range order {
		if len(files[p].items) == 0 {
			empty = append(empty, p)
		}
	}
	for _, r := range rules {
		if _, ok := found[r.Name]; !ok {
			searched := strings.Join(order, ", ")
			if len(missing) > 0 {
				searched += " (not present: " + strings.Join(missing, ", ") + ")"
			}
			if len(empty) > 0 {
				// An empty vendor file is a package install cut short.
				searched += " (empty or only comments: " + strings.Join(empty, ", ") + ")"
			}
			errs = append(errs, fmt.Sprintf("%s: rule %q is not defined in any rules file Falco loads; searched %s. Check the rule's name (it must match `- rule:` exactly) or the falco block's rules_files", r.Pos, r.Name, searched))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return found, nil
}

// amends reports whether item i only amends an earlier definition.
func (rf *rulesFile) amends(i int) (bool, error) {
	it := rf.items[i]
	text := rf.data[it.start:it.end]
	if !strings.Contains(string(text), "append") && !strings.Contains(string(text), "override") {
		return false, nil
	}
	m, err := parseItem(text)
	if err != nil {
		return false, itemError(rf.path, it, err)
	}
	if v := mapValue(m, "append"); v != nil && v.Value == "true" {
		return true, nil
	}
	return mapValue(m, "override") != nil, nil
}

// lastDef finds the last definition of a rule within one file.
func (rf *rulesFile) lastDef(name string) (int, bool) {
	for i := len(rf.items) - 1; i >= 0; i-- {
		if it := rf.items[i]; it.kind == "rule" && it.name == name {
			if a, err := rf.amends(i); err == nil && !a {
				return i, true
			}
		}
	}
	return 0, false
}
