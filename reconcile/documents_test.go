package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// The last entry of a document ends at the document's end marker: a key
// rulekeeper adds goes before the `---` (or `...`), inside the entry.
func TestKeyAddedBeforeTheDocumentEnd(t *testing.T) {
	const entry = "- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: o\n  priority: NOTICE\n"
	for _, marker := range []string{"---\n# the next document\n- list: site\n  items: [a]\n", "...\n"} {
		root := node032(t)
		writeNode(t, root, localPath, []byte(entry+marker))
		mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Output = nil; r.Enabled = ptr(false) }), opts(root))
		if got, want := readNode(t, root, localPath), entry+"  enabled: false\n"+marker; got != want {
			t.Errorf("got:\n%s", udiffText(want, got))
		}
	}
}

// An `append: true` entry is an amendment even when it carries every key of
// a definition (Falco ignores its output, desc and priority): the edit goes
// to the definition before it.
func TestAppendEntryWithEveryKeyIsNoDefinition(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  append: true\n  desc: d\n  condition: and not proc.name=foo\n  output: o\n  priority: INFO\n"))
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if len(p.Files) != 1 || p.Files[0].Path != rulesPath {
		t.Fatalf("plan:\n%s", p.Summary())
	}
}

// A rule written as a flow mapping (`- {rule: ..., output: "..."}`) is
// found and edited again on a later pass, when the file is what rulekeeper
// wrote: the quick cut, which cannot read such an entry, is not taken.
func TestFlowEntryEditedAgain(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("- {rule: Terminal shell in container, desc: d, condition: spawned_process, output: \"o\", priority: NOTICE}\n"))
	d := exam(policy.InPlace)
	d.Rules[0].Output = &policy.Output{Prefix: "NEW"}
	mustApply(t, d, opts(root))
	d.Rules[0].Output = &policy.Output{Prefix: "NEWER"}
	p := mustApply(t, d, opts(root))
	if len(p.Files) != 1 || p.Files[0].Path != localPath || !strings.Contains(readNode(t, root, localPath), `output: "NEWER o"`) {
		t.Fatalf("plan:\n%s\nfile:\n%s", p.Summary(), readNode(t, root, localPath))
	}
}
