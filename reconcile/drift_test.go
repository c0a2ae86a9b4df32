package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

const (
	sshCondition = "  condition: (inbound_outbound) and ssh_port and not allowed_ssh_hosts\n"
	examNewLine  = "    NEW SHELL!!! user_id=%user.uid repo=%container.image.repository\n"
	examTags     = "  tags: [container, shell, mitre_execution]\n"
)

// replaceOnce replaces old by new in s, failing unless old occurs once.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// writeReplacing writes a file the way editors and package managers do:
// a new file renamed over the old one.
func writeReplacing(t *testing.T, p string, data []byte) {
	t.Helper()
	tmp := p + ".dpkg-new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

func reasons(p *Plan) []string {
	var r []string
	for _, fc := range p.Files {
		for _, c := range fc.Changes {
			r = append(r, c.Rule+" "+c.Field+" "+c.Reason)
		}
	}
	return r
}

// Someone edits the managed value: the next pass puts back the value the
// policy asks for, computed from the vendor's original, not on top of the
// edit.
func TestDriftRestored(t *testing.T) {
	for _, tc := range []struct {
		name  string
		d     policy.Desired
		edit  func(t *testing.T, s string) string
		field string
	}{
		{
			name: "output prefix edited",
			d:    exam(policy.InPlace),
			edit: func(t *testing.T, s string) string {
				return replaceOnce(t, s, "NEW SHELL!!!", "OLD SHELL")
			},
			field: "output",
		},
		{
			name: "output line removed",
			d:    exam(policy.InPlace),
			edit: func(t *testing.T, s string) string {
				return replaceOnce(t, s, examNewLine, "")
			},
			field: "output",
		},
		{
			name: "output set back to the vendor's",
			d:    exam(policy.InPlace),
			edit: func(t *testing.T, s string) string {
				b, _ := os.ReadFile(vendor032)
				return string(b)
			},
			field: "output",
		},
		{
			name: "inserted enabled line removed",
			d:    examWith(policy.InPlace, func(r *policy.Rule) { r.Enabled = ptr(false) }),
			edit: func(t *testing.T, s string) string {
				return replaceOnce(t, s, examTags+"  enabled: false\n", examTags)
			},
			field: "enabled",
		},
		{
			name: "inserted enabled flipped",
			d:    examWith(policy.InPlace, func(r *policy.Rule) { r.Enabled = ptr(false) }),
			edit: func(t *testing.T, s string) string {
				return replaceOnce(t, s, examTags+"  enabled: false\n", examTags+"  enabled: true\n")
			},
			field: "enabled",
		},
	} {
		for _, how := range []string{"in place", "rename"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				root := node032(t)
				mustApply(t, tc.d, opts(root))
				want := readNode(t, root, rulesPath)
				drifted := tc.edit(t, want)
				host := filepath.Join(root, rulesPath)
				if how == "rename" {
					writeReplacing(t, host, []byte(drifted))
				} else {
					writeNode(t, root, rulesPath, []byte(drifted))
				}
				p := mustApply(t, tc.d, opts(root))
				r := reasons(p)
				if len(r) != 1 || r[0] != examRule+" "+tc.field+" "+ReasonDrift {
					t.Fatalf("changes: %q", r)
				}
				if got := readNode(t, root, rulesPath); got != want {
					t.Fatalf("not restored to the policy's value:\n%s", strings.Join(diffLines(t, vendor032, host), "\n"))
				}
				if !mustPlan(t, tc.d, opts(root)).Empty() {
					t.Fatal("plan after the repair is not empty")
				}
			})
		}
	}
}

// An edit elsewhere in the file, while rulekeeper's value stands, is not
// rulekeeper's to undo (the agent reports tampering): the plan keeps the
// value and leaves the other bytes as they are.
func TestTamperElsewhereKept(t *testing.T) {
	root := node032(t)
	d := exam(policy.InPlace)
	mustApply(t, d, opts(root))
	tampered := replaceOnce(t, readNode(t, root, rulesPath), sshCondition, "  condition: \n")
	writeNode(t, root, rulesPath, []byte(tampered))
	p := mustApply(t, d, opts(root))
	if !p.Empty() {
		t.Fatalf("plan touches the file:\n%s", p.Diff())
	}
	if readNode(t, root, rulesPath) != tampered {
		t.Fatal("the tampered bytes changed")
	}
	// A later policy change is still computed from the vendor's output and
	// leaves the tampered bytes alone.
	d2 := examWith(policy.InPlace, func(r *policy.Rule) { r.Output.Prefix = "SHELL!" })
	p = mustApply(t, d2, opts(root))
	if r := reasons(p); len(r) != 1 || r[0] != examRule+" output "+ReasonPolicy {
		t.Fatalf("changes: %q", r)
	}
	want := replaceOnce(t, tampered, "NEW SHELL!!! ", "SHELL! ")
	if got := readNode(t, root, rulesPath); got != want {
		t.Fatalf("file after the policy change:\n%s", strings.Join(diffLines(t, vendor032, filepath.Join(root, rulesPath)), "\n"))
	}
}

// A package upgrade replaces the vendor file: rulekeeper takes it for the
// new original and applies the policy on top of it, keeping its other bytes.
func TestUpgradeReapplied(t *testing.T) {
	for _, how := range []string{"in place", "rename"} {
		t.Run(how, func(t *testing.T) {
			root := node032(t)
			d := examWith(policy.InPlace, func(r *policy.Rule) { r.Priority = ptr("WARNING") })
			mustApply(t, d, opts(root))

			vendor, err := os.ReadFile(vendor032)
			if err != nil {
				t.Fatal(err)
			}
			upgraded := replaceOnce(t, string(vendor), sshCondition, "  condition: (inbound_outbound) and ssh_port and not allowed_ssh_hosts and not proc.name=sshd\n")
			// The new vendor output of the rule differs too.
			upgraded = replaceOnce(t, upgraded, "terminal=%proc.tty container_id=%container.id image=%container.image.repository)", "terminal=%proc.tty pid=%proc.pid container_id=%container.id image=%container.image.repository)")
			host := filepath.Join(root, rulesPath)
			if how == "rename" {
				writeReplacing(t, host, []byte(upgraded))
			} else {
				writeNode(t, root, rulesPath, []byte(upgraded))
			}
			p := mustApply(t, d, opts(root))
			r := reasons(p)
			if len(r) != 2 || r[0] != examRule+" output "+ReasonUpgrade || r[1] != examRule+" priority "+ReasonUpgrade {
				t.Fatalf("changes: %q", r)
			}
			upfile := filepath.Join(t.TempDir(), "upgraded.yaml")
			os.WriteFile(upfile, []byte(upgraded), 0o644)
			got := strings.Join(diffLines(t, upfile, host), "\n")
			want := ">" + " " + examNewLine[:len(examNewLine)-1] + "\n<   priority: NOTICE\n>   priority: WARNING"
			if got != want {
				t.Fatalf("diff against the new vendor file:\n%s\nwant:\n%s", got, want)
			}
			if !mustPlan(t, d, opts(root)).Empty() {
				t.Fatal("plan after the upgrade is not empty")
			}
			// The new file is the original now: dropping the rule gives it back.
			mustApply(t, policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}}, opts(root))
			if readNode(t, root, rulesPath) != upgraded {
				t.Fatalf("dropping the rule did not give back the upgraded vendor file:\n%s", strings.Join(diffLines(t, upfile, host), "\n"))
			}
		})
	}
}
