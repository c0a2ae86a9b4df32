package reconcile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// A rule the files do not define is told with the files searched, and adds
// which of them are missing or empty only when some are.
func TestUndefinedRuleSaysWhatWasSearched(t *testing.T) {
	const head = `policy.hcl:5,1: rule "Nope" is not defined in any rules file Falco loads; searched /etc/falco/falco_rules.yaml`
	const tail = ". Check the rule's name (it must match `- rule:` exactly) or the falco block's rules_files"
	for _, tc := range []struct {
		name  string
		local []byte // nil: no local file
		want  string
	}{
		{"all there", []byte("- list: site\n  items: [a]\n"), head + ", /etc/falco/falco_rules.local.yaml" + tail},
		{"one empty", []byte("# only a comment\n"), head + ", /etc/falco/falco_rules.local.yaml (empty or only comments: /etc/falco/falco_rules.local.yaml)" + tail},
		{"one missing", nil, head + " (not present: /etc/falco/falco_rules.local.yaml)" + tail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			if tc.local == nil {
				os.Remove(filepath.Join(root, "/etc/falco/falco_rules.local.yaml"))
			} else {
				writeNode(t, root, "/etc/falco/falco_rules.local.yaml", tc.local)
			}
			_, err := MakePlan(examWith(policy.InPlace, func(r *policy.Rule) { r.Name = "Nope" }), opts(root))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

// A YAML error on an item's first line is told with the file and line
// only: the name read from that line may be what is broken. On a later
// line of the item, the item is named.
func TestYAMLErrorNamesTheItemPastItsFirstLine(t *testing.T) {
	const f = "/etc/falco/rules.d/a.yaml"
	for _, tc := range []struct{ text, want string }{
		{"- list: x\n  items: [a]\n- rule: a: b\n  desc: x\n", f + ":3: mapping values are not allowed in this context"},
		{"- list: x\n  items: [a]\n- rule: a\n  desc: b: c\n", f + `:4: rule "a": mapping values are not allowed in this context`},
	} {
		root := node032(t)
		writeNode(t, root, f, []byte(tc.text))
		_, err := MakePlan(exam(policy.InPlace), opts(root))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got\n%v\nwant\n%s", tc.text, err, tc.want)
		}
	}
}
