//go:build realfalco

package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

// vendorShellImages gives the vendor's terminal-shell rule an exception of
// its own, as a vendor file may (the upstream files here define none).
const vendorShellImages = "- rule: Terminal shell in container\n" +
	"  exceptions:\n    - name: shell_images\n      fields: [container.image.repository]\n" +
	"      values:\n        - [registry.example.com/tools]\n"

// Each exception, in place and by a drop-in, on every real Falco: `-V`
// (rulekeeper's gate, before anything is written) accepts the files, and
// the capture's shell alert is silenced when the exception matches it (the
// shell sh in an nginx container) and not when it does not. The last cases
// add values to an exception the vendor's rule defines.
func TestRealFalcoExceptions(t *testing.T) {
	vals := func(rows ...[]policy.ExceptionValue) [][]policy.ExceptionValue { return rows }
	for _, v := range realfalco.Versions {
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			for _, tc := range []struct {
				name   string
				ex     policy.Exception
				vendor bool // the vendor's rule has shell_images
				alert  bool
			}{
				{"proc.name = sh", policy.Exception{Name: "team_shells", Fields: []string{"proc.name"}, Values: vals(row("sh"))}, false, false},
				{"proc.name = bash", policy.Exception{Name: "team_shells", Fields: []string{"proc.name"}, Values: vals(row("bash"))}, false, true},
				{"image and shell in a list", policy.Exception{Name: "debug_image", Fields: []string{"container.image.repository", "proc.name"},
					Comps: []string{"=", "in"}, Values: vals(row("registry.example.com/payments/debug", []string{"bash"}), row("nginx", []string{"sh", "bash"}))}, false, false},
				{"image startswith", policy.Exception{Name: "debug_image", Fields: []string{"container.image.repository"},
					Comps: []string{"startswith"}, Values: vals(row("ngi"))}, false, false},
				{"vendor exception gains nginx", policy.Exception{Name: "shell_images", Values: vals(row("nginx"))}, true, false},
				{"vendor exception gains another image", policy.Exception{Name: "shell_images", Values: vals(row("redis"))}, true, true},
			} {
				t.Run(v+"/"+string(s)+"/"+tc.name, func(t *testing.T) {
					d := excPolicy(s, shellRule, tc.ex)
					out, p := tunedNode(t, v, d, func(root string) {
						if tc.vendor {
							vendor := readNode(t, root, rulesPath)
							writeNode(t, root, rulesPath, []byte(replaceOnce(t, vendor, "- rule: Terminal shell in container\n", vendorShellImages)))
						}
					})
					if len(p.Files) != 1 {
						t.Fatalf("want one file written, got %s", p.Summary())
					}
					if got := strings.Contains(out, shellAlert); got != tc.alert {
						t.Fatalf("alert %v, want %v; plan:\n%s\n%s\nFalco said:\n%s", got, tc.alert, p.Summary(), p.Diff(), out)
					}
				})
			}
		}
	}
}

// Every rule of each upstream file gains an exception at once, in place
// and by a drop-in: the real Falco of that version accepts the result
// (rulekeeper's `-V` gate, and `-V` again on the files written).
func TestRealFalcoEveryRuleException(t *testing.T) {
	for _, v := range realfalco.Versions {
		bin := realfalco.Binary(t, v)
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			t.Run(v+"/"+string(s), func(t *testing.T) {
				root := realNode(t, v)
				o := opts(root)
				o.FalcoBinary, o.FalcoVersion = bin, v
				d := everyRuleException(t, realfalco.Packages[v].Rules, s)
				p := mustPlan(t, d, o)
				res, err := Apply(p)
				if err != nil {
					t.Fatalf("apply of %d exceptions: %v", len(d.Rules), err)
				}
				if !res.Checked {
					t.Fatal("the files were not checked with the real falco -V")
				}
				if n := exceptionChanges(p); n != len(d.Rules) {
					t.Fatalf("the plan adds %d exceptions, want one to each of %d rules", n, len(d.Rules))
				}
				if out, errOut, code := realfalco.Run(t, bin, loadArgs(root, p, "-V")...); code != 0 {
					t.Fatalf("real Falco %s refuses the edited files (exit %d):\n%s%s", v, code, out, errOut)
				}
			})
		}
	}
}

// A rule that gains both an appended condition and an exception: on Falco
// before 0.37 the drop-in is one `append: true` entry carrying both, from
// 0.37 one `override:` entry. Each half is seen to work on its own (the
// other half does not match the capture's shell) and neither silences
// what it does not match.
func TestRealFalcoConditionAndException(t *testing.T) {
	for _, v := range realfalco.Versions {
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			for _, tc := range []struct {
				name        string
				cond, shell string
				alert       bool
			}{
				{"the condition silences", "sh", "bash", false},
				{"the exception silences", "bash", "sh", false},
				{"neither matches", "bash", "bash", true},
			} {
				t.Run(v+"/"+string(s)+"/"+tc.name, func(t *testing.T) {
					d := excPolicy(s, shellRule, policy.Exception{Name: "team_shells", Fields: []string{"proc.name"}, Values: [][]policy.ExceptionValue{row(tc.shell)}})
					d.Rules[0].Condition = &policy.Condition{Append: "and not proc.name = " + tc.cond}
					out, p := tunedNode(t, v, d, func(string) {})
					if len(p.Files) != 1 {
						t.Fatalf("want one file written, got %s", p.Summary())
					}
					if s == policy.Override && v == "0.32.1" && !strings.Contains(string(p.Files[0].New), "  condition: and not proc.name = "+tc.cond+"\n  append: true\n  exceptions:\n") {
						t.Errorf("want one append entry with both:\n%s", p.Files[0].New)
					}
					if got := strings.Contains(out, shellAlert); got != tc.alert {
						t.Fatalf("alert %v, want %v; plan:\n%s\n%s\nFalco said:\n%s", got, tc.alert, p.Summary(), p.Diff(), out)
					}
				})
			}
		}
	}
}
