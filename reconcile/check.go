package reconcile

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// editable refuses the values of item i that an edit cannot change alone:
// an alias (`output: *x`) is another value's text, and a value carrying an
// anchor some alias uses (`output: &x ...`, `*x` elsewhere) is that alias's
// text too. Only a full parse sees aliases; a simple file has none.
func (rf *rulesFile) editable(i int, r policy.Rule) error {
	it := rf.items[i]
	if it.node == nil {
		return nil
	}
	for _, f := range fieldsOf(r) {
		v := mapValue(it.node, f)
		switch {
		case v == nil:
		case v.Kind == yaml.AliasNode:
			return fmt.Errorf("%s:%d: rule %q: the %s is the YAML alias *%s of the value at line %d: rulekeeper does not edit through an alias (the edit would change every use of the anchor); write the text out in this rule", rf.path, v.Line, it.name, f, v.Value, v.Alias.Line)
		case rf.aliased[v]:
			return fmt.Errorf("%s:%d: rule %q: the %s carries the YAML anchor &%s, which an alias elsewhere in the file uses: editing it would change that value too; write the aliased value out where it is used", rf.path, v.Line, it.name, f, v.Anchor)
		}
	}
	return nil
}

// checkWhole parses the whole new file and checks that Falco reads it as the
// old one, item by item, but for the fields the pass edits (touched) in the
// items it edits, which must read as desired (want). It guards the edits of
// files whose items do not stand alone: several documents, anchors and
// aliases, flow entries, an indented list.
func checkWhole(rf *rulesFile, out []byte, touched map[int]map[string]bool, want map[int]map[string]string) error {
	refuse := func(format string, a ...any) error {
		return fmt.Errorf("%s: refusing to write: %s", rf.path, fmt.Sprintf(format, a...))
	}
	pf, err := parseFile(out)
	if err != nil {
		return refuse("the new file would not parse: %v", err)
	}
	if len(pf.items) != len(rf.items) {
		return refuse("the new file would have %d entries instead of %d", len(pf.items), len(rf.items))
	}
	for i, old := range rf.items {
		nw := pf.items[i]
		if nw.kind != old.kind || nw.name != old.name {
			return refuse("entry %d (line %d) would read as %s %q instead of %s %q", i+1, old.line, nw.kind, nw.name, old.kind, old.name)
		}
		var a, b any
		if err := old.node.Decode(&a); err != nil {
			return refuse("line %d: %v", old.line, err)
		}
		if err := nw.node.Decode(&b); err != nil {
			return refuse("line %d: %v", nw.line, err)
		}
		if touched[i] == nil {
			if !reflect.DeepEqual(a, b) {
				return refuse("the edit would change %s %q at line %d as Falco reads it", old.kind, old.name, old.line)
			}
			continue
		}
		am, _ := a.(map[string]any)
		bm, _ := b.(map[string]any)
		for k, v := range am {
			if !touched[i][k] && !reflect.DeepEqual(v, bm[k]) {
				return refuse("the edit would change the %s of %s %q at line %d", k, old.kind, old.name, old.line)
			}
		}
		for k := range bm {
			if _, ok := am[k]; !ok && !touched[i][k] {
				return refuse("the edit would add %s to %s %q at line %d", k, old.kind, old.name, old.line)
			}
		}
		for k, v := range want[i] {
			if got := strings.TrimSpace(fmt.Sprint(bm[k])); got != strings.TrimSpace(v) && (bm[k] != nil || v != "") {
				return refuse("after the edit the %s of rule %q at line %d reads %q, not %q", k, old.name, old.line, got, v)
			}
		}
	}
	return nil
}
