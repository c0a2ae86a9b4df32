package daemon

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/agent/alert"
)

// A rules file that came or went outside rulekeeper is tampering, told as
// such: with a diff from or to /dev/null when its content is known (a
// managed file's copy, a missing file's nothing), else in words; a file
// whose content is back as it was is no edit to tell.
func TestClassifyFilesComeAndGone(t *testing.T) {
	t.Parallel()
	const f = "/etc/falco/rules.d/site.yaml"
	kept := seenOf([]byte("- list: a\n  items: []\n"))
	hashed := &seen{Sum: kept.Sum, Size: kept.Size}
	for _, tc := range []struct {
		name        string
		before, now *seen
		message     string
		diff        string // "" none
	}{
		{"a new file rulekeeper does not manage", nil, hashed, "outside the values the policy manages: a new rules file; nothing was put back", ""},
		{"a file rulekeeper does not manage removed", hashed, nil, "outside the values the policy manages: the rules file was removed; nothing was put back", ""},
		{"a managed file removed", kept, nil, "the rules file was removed", "--- a" + f + "\n+++ /dev/null\n"},
		{"a file known by its content, new", nil, kept, "a new rules file", "--- /dev/null\n+++ b" + f + "\n"},
		{"a managed file edited", kept, seenOf([]byte("- list: a\n  items: [x]\n")), "see the diff", "-  items: []\n+  items: [x]\n"},
	} {
		evs := classify(nil, []edit{{Path: f, Before: tc.before, Now: tc.now}}, true)
		if len(evs) != 1 {
			t.Errorf("%s: %d events, want one tamper", tc.name, len(evs))
			continue
		}
		e := evs[0]
		if e.Kind != alert.Tamper || e.File != f || !strings.Contains(e.Message, tc.message) {
			t.Errorf("%s: %s %s %q, want tamper with %q", tc.name, e.Kind, e.File, e.Message, tc.message)
		}
		if tc.diff == "" && e.Diff != "" || !strings.Contains(e.Diff, tc.diff) {
			t.Errorf("%s: diff %q, want one holding %q", tc.name, e.Diff, tc.diff)
		}
	}
	if evs := classify(nil, []edit{{Path: f, Before: kept, Now: hashed}}, true); len(evs) != 0 {
		t.Errorf("the same content seen whole and by hash is an edit: %+v", evs)
	}
}
