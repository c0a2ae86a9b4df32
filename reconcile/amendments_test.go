package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// An override entry (Falco 0.37+) after the definition that replaces the
// priority or enabled the policy manages makes the in-place edit useless:
// refused, naming the entry and the field.
func TestLaterOverrideOfPriorityOrEnabledRefused(t *testing.T) {
	for _, field := range []string{"priority", "enabled"} {
		t.Run(field, func(t *testing.T) {
			root := node032(t)
			value := map[string]string{"priority": "INFO", "enabled": "false"}[field]
			writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  "+field+": "+value+"\n  override:\n    "+field+": replace\n"))
			d := examWith(policy.InPlace, func(r *policy.Rule) { r.Priority = ptr("WARNING"); r.Enabled = ptr(true) })
			_, err := MakePlan(d, opts(root))
			if want := localPath + ":1 sets its " + field + " again"; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error: %v\nwant: %s", err, want)
			}
		})
	}
}

// An `append: true` entry changes only the condition and exceptions (Falco
// ignores the rest beside it): an enabled there does not stop the edit of
// enabled, and the edit is made in the definition.
func TestAppendEntryDoesNotReset(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  append: true\n  condition: and not proc.name=foo\n  enabled: false\n"))
	p := mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Enabled = ptr(false) }), opts(root))
	if len(p.Files) != 1 || p.Files[0].Path != rulesPath {
		t.Fatalf("plan:\n%s", p.Summary())
	}
}

// A rule amended later in its own file (`append: true`) is edited in its
// definition, and drift is found and put back there: rulekeeper looks for
// its values in the definition, not in the amendment.
func TestAmendedInTheSameFileDriftPutBack(t *testing.T) {
	root := node032(t)
	const amendment = "\n- rule: Terminal shell in container\n  append: true\n  condition: and not proc.name=foo\n"
	writeNode(t, root, rulesPath, []byte(readNode(t, root, rulesPath)+amendment))
	d := exam(policy.InPlace)
	mustApply(t, d, opts(root))
	applied := readNode(t, root, rulesPath)
	if !strings.HasSuffix(applied, amendment) || !strings.Contains(applied, "NEW SHELL!!!") {
		t.Fatal("the edit is not in the definition")
	}
	writeNode(t, root, rulesPath, []byte(replaceOnce(t, applied, "NEW SHELL!!!", "OLD SHELL")))
	mustApply(t, d, opts(root))
	if got := readNode(t, root, rulesPath); got != applied {
		t.Fatalf("the drift was not put back as it was written:\n%s", udiffText(applied, got))
	}
}
