package daemon

import (
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/rulekeeper/rulekeeper/agent"
)

// A refused policy's one-line reason: its first three errors in full (the
// file as named in the repository, the line, summary and detail, spaces
// folded), then how many more; warnings are not errors.
func TestDiagsLine(t *testing.T) {
	t.Parallel()
	const dir = "/var/lib/rulekeeper/source/checkout"
	at := func(line int) *hcl.Range {
		return &hcl.Range{Filename: dir + "/rules/policy.hcl", Start: hcl.Pos{Line: line}}
	}
	diag := func(sev hcl.DiagnosticSeverity, summary, detail string, r *hcl.Range) *hcl.Diagnostic {
		return &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: r}
	}
	for _, tc := range []struct {
		name  string
		diags hcl.Diagnostics
		want  string
	}{
		{"none", nil, "no error was recorded"},
		{"warnings only", hcl.Diagnostics{diag(hcl.DiagWarning, "Deprecated", "", at(1))}, "no error was recorded"},
		{"one without a place", hcl.Diagnostics{diag(hcl.DiagError, "Cannot read policy directory", "open x: no such file", nil)},
			"Cannot read policy directory: open x: no such file"},
		{"three, a warning between", hcl.Diagnostics{
			diag(hcl.DiagError, "Unknown Falco field", "%user.uidd\n  is not a field", at(12)),
			diag(hcl.DiagWarning, "Deprecated", "", at(2)),
			diag(hcl.DiagError, "Duplicate rule", "", at(20)),
			diag(hcl.DiagError, "Bad prefix", "empty", at(30)),
		}, "rules/policy.hcl:12: Unknown Falco field: %user.uidd is not a field; rules/policy.hcl:20: Duplicate rule; rules/policy.hcl:30: Bad prefix: empty"},
		{"five", hcl.Diagnostics{
			diag(hcl.DiagError, "E1", "", at(1)), diag(hcl.DiagError, "E2", "", at(2)), diag(hcl.DiagError, "E3", "", at(3)),
			diag(hcl.DiagError, "E4", "", at(4)), diag(hcl.DiagError, "E5", "", at(5)),
		}, "rules/policy.hcl:1: E1; rules/policy.hcl:2: E2; rules/policy.hcl:3: E3; and 2 more errors"},
		{"four", hcl.Diagnostics{
			diag(hcl.DiagError, "E1", "", at(1)), diag(hcl.DiagError, "E2", "", at(2)), diag(hcl.DiagError, "E3", "", at(3)),
			diag(hcl.DiagError, "E4", "", at(4)),
		}, "rules/policy.hcl:1: E1; rules/policy.hcl:2: E2; rules/policy.hcl:3: E3; and 1 more errors"},
	} {
		if got := diagsLine(&agent.Outcome{Diags: tc.diags}, dir); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	if got := diagsLine(nil, dir); got != "no error was recorded" {
		t.Errorf("no outcome: %q", got)
	}
}
