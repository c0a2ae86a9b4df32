package reconcile

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// rulesFile is one loaded rules file, cut into its items.
type rulesFile struct {
	path  string
	data  []byte
	items []item
	// simple says the quick cut is proven for these bytes: each item's text
	// parses alone as it does in the file. Otherwise the items come from a
	// full parse, and an edit is checked by parsing the whole new file.
	simple bool
	// aliased holds the nodes of a full parse that an alias refers to.
	aliased map[*yaml.Node]bool
	// parsedAlone caches items parsed alone: finding the definition and
	// editing it read the same item.
	parsedAlone map[int]*yaml.Node
}

// loadRulesFiles reads the files; proven tells whether a full parse has
// vouched for a file's bytes before.
func loadRulesFiles(paths []string, data map[string][]byte, proven func(path string) bool) (map[string]*rulesFile, error) {
	out := map[string]*rulesFile{}
	for _, p := range paths {
		rf, err := readRules(p, data[p], proven(p))
		if err != nil {
			return nil, err
		}
		out[p] = rf
	}
	return out, nil
}

// readRules reads a rules file as Falco does. Bytes a full parse vouched for
// before take the quick cut (a 136 KB file in about 0.1 ms); any other bytes
// are parsed whole, every document (about 15 ms), and refused when they are
// not valid YAML anywhere.
func readRules(p string, data []byte, proven bool) (*rulesFile, error) {
	rf := &rulesFile{path: p, data: data, simple: true}
	if len(bytes.TrimSpace(data)) == 0 {
		return rf, nil
	}
	if proven {
		if items, err := cutItems(data); err == nil {
			rf.items = items
			return rf, nil
		}
	}
	pf, err := parseFile(data)
	if err != nil {
		return nil, fileError(p, data, err)
	}
	rf.items, rf.simple, rf.aliased = pf.items, pf.simple, pf.aliased
	return rf, nil
}

// fileError names the file, the line and, where the quick cut can tell, the
// item holding that line.
func fileError(p string, data []byte, err error) error {
	m := yamlLine().FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	line, _ := strconv.Atoi(m[1])
	msg := err.Error()[len(m[0]):]
	items, _ := cutItems(data)
	for _, it := range items {
		last := it.line + bytes.Count(bytes.TrimSuffix(data[it.start:it.end], []byte("\n")), []byte("\n"))
		if it.kind != "" && it.line < line && line <= last { // not its first line: the name may be the problem
			return fmt.Errorf("%s:%d: %s %q: %s", p, line, it.kind, it.name, msg)
		}
	}
	return fmt.Errorf("%s:%d: %s", p, line, msg)
}

// def is where a rule is defined: the item Falco uses.
type def struct {
	file string
	item int
}

// findRules finds, for every desired rule, its last full definition across
// the files in load order: in Falco a later definition replaces an earlier
// one, while `append: true` and `override:` entries only amend it. For an
// edit in place (inPlace), an amendment that sets a managed value again
// after the definition is an error: the edit would not count.
func findRules(rules []policy.Rule, files map[string]*rulesFile, order, missing []string, inPlace bool) (map[string]def, error) {
	want := map[string]bool{}
	for _, r := range rules {
		want[r.Name] = true
	}
	found := map[string]def{}
	// later[name] are the amendments after the current definition that set
	// a value again over it.
	type reset struct{ field, where string }
	later := map[string][]reset{}
	var names []string // the other rules, for a suggestion
	for _, p := range order {
		rf := files[p]
		for i, it := range rf.items {
			if it.kind == "rule" && !want[it.name] {
				names = append(names, it.name)
			}
			if it.kind != "rule" || !want[it.name] {
				continue
			}
			m, err := rf.entry(i)
			if err != nil {
				return nil, err
			}
			if defines(m) {
				found[it.name] = def{file: p, item: i}
				delete(later, it.name)
				continue
			}
			for _, f := range resets(m) {
				later[it.name] = append(later[it.name], reset{f, fmt.Sprintf("%s:%d", p, it.line)})
			}
		}
	}
	var errs []string
	for _, r := range rules {
		df, ok := found[r.Name]
		if !ok || !inPlace { // the override file is loaded after them all
			continue
		}
		for _, l := range later[r.Name] {
			if manages(r, l.field) {
				dit := files[df.file].items[df.item]
				does, field := "sets its "+l.field+" again", l.field
				if l.field == "condition.append" {
					does, field = "appends to its condition", "condition"
				}
				errs = append(errs, fmt.Sprintf("%s: rule %q: %s %s after the definition rulekeeper edits (%s:%d), so Falco would not use the edit; remove that entry, or leave %s out of the policy (or use the override strategy)", r.Pos, r.Name, l.where, does, df.file, dit.line, field))
			}
		}
	}
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
			hint := ""
			if s := closest(r.Name, names); s != "" {
				hint = fmt.Sprintf(" Did you mean %q?", s)
			}
			errs = append(errs, fmt.Sprintf("%s: rule %q is not defined in any rules file Falco loads; searched %s.%s Check the rule's name (it must match `- rule:` exactly) or the falco block's rules_files", r.Pos, r.Name, searched, hint))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return found, nil
}

// amends reports whether item i only amends an earlier definition (see
// defines and definesList).
func (rf *rulesFile) amends(i int) (bool, error) {
	m, err := rf.entry(i)
	if err != nil {
		return false, err
	}
	switch rf.items[i].kind {
	case "list":
		return !definesList(m), nil
	case "macro":
		return !definesMacro(m), nil
	}
	return !defines(m), nil
}

// resets lists the managed fields an amendment sets over the definition:
// `enabled` for an entry that only switches the rule on or off, the
// `override:` keys of an override entry (Falco 0.37+). `append:` entries
// change only conditions and exceptions: an appended condition is
// "condition.append", which counts against a condition the policy replaces.
func resets(m *yaml.Node) []string {
	if o := resolve(mapValue(m, "override")); o != nil {
		var out []string
		if o.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(o.Content); i += 2 {
				switch k := o.Content[i].Value; k {
				case "output", "priority", "enabled", "desc", "tags":
					out = append(out, k)
				case "exceptions":
					if o.Content[i+1].Value == "replace" {
						out = append(out, k)
					}
				case "condition":
					if o.Content[i+1].Value == "append" {
						k = "condition.append"
					}
					out = append(out, k)
				}
			}
		}
		return out
	}
	if v := resolve(mapValue(m, "append")); v != nil && v.Kind == yaml.ScalarNode && yamlTrue(v.Value) {
		if mapValue(m, "condition") != nil {
			return []string{"condition.append"}
		}
		return nil
	}
	if mapValue(m, "enabled") != nil {
		return []string{"enabled"}
	}
	return nil
}

// entry is item i's mapping node: from the full parse, or the item's text
// parsed alone on the fast path (only the items a pass looks at).
func (rf *rulesFile) entry(i int) (*yaml.Node, error) {
	if n := rf.items[i].node; n != nil {
		return n, nil
	}
	return rf.alone(i)
}

// alone parses item i's text by itself, for an edit: positions in the
// result count from the item's first line.
func (rf *rulesFile) alone(i int) (*yaml.Node, error) {
	it := rf.items[i]
	if it.uncut {
		return nil, fmt.Errorf("%s:%d: %s %q is an entry of a flow list (`[...]`) or an alias: rulekeeper edits entries of block lists (`- rule: ...`); rewrite the file as a block list", rf.path, it.line, it.kind, it.name)
	}
	if m := rf.parsedAlone[i]; m != nil {
		return m, nil
	}
	m, err := parseItem(rf.data[it.start:it.end])
	if err != nil {
		if strings.Contains(err.Error(), "unknown anchor") {
			return nil, fmt.Errorf("%s:%d: %s %q uses a YAML alias (`*name`) of a value defined outside it: rulekeeper cannot edit it safely; write the value out in the rule", rf.path, it.line, it.kind, it.name)
		}
		return nil, itemError(rf.path, it, err)
	}
	if rf.parsedAlone == nil {
		rf.parsedAlone = map[int]*yaml.Node{}
	}
	rf.parsedAlone[i] = m
	return m, nil
}

// lastDef finds the last definition of a rule (or, with kind "list", a
// list) within one file.
func (rf *rulesFile) lastDef(kind, name string) (int, bool) {
	if kind == "" {
		kind = "rule"
	}
	for i := len(rf.items) - 1; i >= 0; i-- {
		if it := rf.items[i]; it.kind == kind && it.name == name {
			if a, err := rf.amends(i); err == nil && !a {
				return i, true
			}
		}
	}
	return 0, false
}
