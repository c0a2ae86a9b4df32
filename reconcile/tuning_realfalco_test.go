//go:build realfalco

package reconcile

import (
	"os"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

// quietShells is what an operator's falco_rules.local.yaml may hold: a list
// of shells the terminal-shell rule leaves alone, appended to its condition
// (`append: true` works on every version here, deprecated from 0.37).
const quietShells = `- list: quiet_shells
  items: [bash]

- rule: Terminal shell in container
  append: true
  condition: and not proc.name in (quiet_shells)
`

// shellAlert is the start of the vendor's alert text on every version.
const shellAlert = "A shell was spawned in a container with an attached terminal"

// tuned applies d to a node of a Falco version, with the real Falco as the
// node's (its `-V` gate runs before anything is written), and replays the
// capture through the files Falco then loads. It returns the alerts.
func tuned(t *testing.T, version string, d policy.Desired, local string) (string, *Plan) {
	t.Helper()
	return tunedNode(t, version, d, func(root string) {
		if local != "" {
			writeNode(t, root, localPath, []byte(local))
		}
	})
}

// tunedNode is tuned with the node's files laid out by prep first.
func tunedNode(t *testing.T, version string, d policy.Desired, prep func(root string)) (string, *Plan) {
	t.Helper()
	root := realNode(t, version)
	prep(root)
	o := opts(root)
	o.FalcoBinary, o.FalcoVersion = realfalco.Binary(t, version), version
	p, err := MakePlan(d, o)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	res, err := Apply(p)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(p.Files) > 0 && !res.Checked {
		t.Fatal("the files were not checked with falco -V")
	}
	var rules []string
	for _, f := range p.order {
		rules = append(rules, "-r", hostPath(root, f))
	}
	return realfalco.Replay(t, version, hostPath(root, policy.DefaultConfig), capture, rules...), p
}

// Each list edit, in place and by a drop-in, on every real Falco: `-V`
// accepts the files, and the capture's shell alert appears or disappears
// as the edit says.
func TestRealFalcoLists(t *testing.T) {
	for _, v := range realfalco.Versions {
		if out, _ := tuned(t, v, policy.Desired{}, quietShells); !strings.Contains(out, shellAlert) {
			t.Fatalf("Falco %s: the vendor's files do not alert on the capture's shell:\n%s", v, out)
		}
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			for _, tc := range []struct {
				name  string
				list  policy.List
				alert bool
			}{
				{"remove sh from shell_binaries", policy.List{Name: "shell_binaries", Remove: []string{"sh"}}, false},
				{"add sh to quiet_shells", policy.List{Name: "quiet_shells", Add: []string{"sh"}}, false},
				{"replace shell_binaries", policy.List{Name: "shell_binaries", Replace: true, Items: []string{"bash", "zsh"}}, false},
				{"add fish and remove bash", policy.List{Name: "shell_binaries", Add: []string{"fish"}, Remove: []string{"bash"}}, true},
			} {
				t.Run(v+"/"+string(s)+"/"+tc.name, func(t *testing.T) {
					out, p := tuned(t, v, listPolicy(s, tc.list), quietShells)
					if got := strings.Contains(out, shellAlert); got != tc.alert {
						t.Fatalf("alert %v, want %v; plan:\n%s\n%s\nFalco said:\n%s", got, tc.alert, p.Summary(), p.Diff(), out)
					}
				})
			}
		}
	}
}

// A rules file of the policy's own, on every real Falco: written into
// rules.d, checked with the vendor's files, and its rule fires on the
// capture. It turns the vendor's rule off: Falco reports the first rule
// that matches an event, and the vendor's comes first.
func TestRealFalcoFile(t *testing.T) {
	own := "- rule: Terminal shell in container\n  enabled: false\n\n" +
		"- list: team_shells\n  items: [sh]\n\n- rule: Team shell\n  desc: a shell the team watches\n" +
		"  condition: spawned_process and proc.name in (team_shells)\n  output: TEAM SHELL (command=%proc.cmdline)\n  priority: WARNING\n"
	for _, v := range realfalco.Versions {
		t.Run(v, func(t *testing.T) {
			out, p := tuned(t, v, filePolicy(team(own)), "")
			if len(p.Files) != 1 || p.Files[0].Path != teamPath {
				t.Fatalf("want the team's file written, got %s", p.Summary())
			}
			if !strings.Contains(out, "Warning TEAM SHELL (command=sh)") {
				t.Fatalf("the team's rule did not fire:\n%s", out)
			}
		})
	}
	// A file Falco refuses is not written.
	t.Run("refused", func(t *testing.T) {
		root := realNode(t, "0.32.1")
		o := opts(root)
		o.FalcoBinary, o.FalcoVersion = realfalco.Binary(t, "0.32.1"), "0.32.1"
		bad := "- rule: Team shell\n  desc: x\n  condition: spawned_process and proc.nme = sh\n  output: x\n  priority: WARNING\n"
		p, err := MakePlan(filePolicy(team(bad)), o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(p); err == nil || !strings.Contains(err.Error(), "falco -V rejects") || !strings.Contains(err.Error(), "proc.nme") {
			t.Fatalf("want falco -V to refuse the unknown field, got %v", err)
		}
		if _, err := readNodeErr(root, teamPath); err == nil {
			t.Fatal("the refused file was written")
		}
	})
}

func readNodeErr(root, p string) ([]byte, error) { return os.ReadFile(hostPath(root, p)) }

// Every list of each upstream file edited at once, in place and by a
// drop-in: the real Falco of that version accepts the result (`-V`, run by
// rulekeeper's gate before anything is written, and again on the files).
func TestRealFalcoEveryList(t *testing.T) {
	for _, v := range realfalco.Versions {
		bin := realfalco.Binary(t, v)
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			t.Run(v+"/"+string(s), func(t *testing.T) {
				root := realNode(t, v)
				o := opts(root)
				o.FalcoBinary, o.FalcoVersion = bin, v
				d := everyList(t, realfalco.Packages[v].Rules, s)
				p := mustPlan(t, d, o)
				res, err := Apply(p)
				if err != nil {
					t.Fatalf("apply of %d lists: %v", len(d.Lists), err)
				}
				if !res.Checked {
					t.Fatal("the files were not checked with the real falco -V")
				}
				if out, errOut, code := realfalco.Run(t, bin, loadArgs(root, p, "-V")...); code != 0 {
					t.Fatalf("real Falco %s refuses the edited files (exit %d):\n%s%s", v, code, out, errOut)
				}
			})
		}
	}
}
