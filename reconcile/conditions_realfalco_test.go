//go:build realfalco

package reconcile

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

// Each condition change, of a macro and of a rule, in place and by a
// drop-in, on every real Falco: `-V` accepts the files (rulekeeper's gate),
// and the capture's shell alert appears or disappears as the change says.
func TestRealFalcoConditions(t *testing.T) {
	notSh := &policy.Condition{Append: "and not proc.name = sh"}
	for _, v := range realfalco.Versions {
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			for _, tc := range []struct {
				name  string
				d     policy.Desired
				alert bool
			}{
				{"macro append", macroPolicy(s, policy.Macro{Name: "spawned_process", Condition: notSh}), false},
				{"macro replace", macroPolicy(s, policy.Macro{Name: "user_expected_terminal_shell_in_container_conditions",
					Condition: &policy.Condition{Replace: ptr("proc.name = sh")}}), false},
				{"macro replace that still fires", macroPolicy(s, policy.Macro{Name: "user_expected_terminal_shell_in_container_conditions",
					Condition: &policy.Condition{Replace: ptr("proc.name = fish")}}), true},
				{"rule condition append", rulePolicy(s, policy.Rule{Name: shellRule, Condition: notSh}), false},
				{"rule condition replace", rulePolicy(s, policy.Rule{Name: shellRule,
					Condition: &policy.Condition{Replace: ptr("spawned_process and proc.name = nosuchshell")}}), false},
				{"rule condition replace that still fires", rulePolicy(s, policy.Rule{Name: shellRule,
					Condition: &policy.Condition{Replace: ptr("spawned_process and proc.name in (shell_binaries)")}}), true},
			} {
				t.Run(v+"/"+string(s)+"/"+tc.name, func(t *testing.T) {
					out, p := tuned(t, v, tc.d, "")
					if p.Empty() {
						t.Fatal("the plan changes nothing")
					}
					if got := strings.Contains(out, shellAlert); got != tc.alert {
						t.Fatalf("alert %v, want %v; plan:\n%s\n%s\nFalco said:\n%s", got, tc.alert, p.Summary(), p.Diff(), out)
					}
				})
			}
		}
	}
}

// Tags and desc do not change what fires: the real Falco accepts them, and
// the rule it loads carries them. The tags show end to end: replayed with
// only the rules of a tag selected (`-t` on 0.32.1, the `rules:` selection
// of the config from 0.38), the shell alert comes for a tag the policy
// added and not for one it removed.
func TestRealFalcoTagsDesc(t *testing.T) {
	for _, v := range realfalco.Versions {
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			t.Run(v+"/"+string(s), func(t *testing.T) {
				d := rulePolicy(s, policy.Rule{Name: shellRule, Desc: ptr("Team shell watch"),
					Tags: &policy.Tags{Add: []string{"team_x"}, Remove: []string{"container"}}})
				out, p := tuned(t, v, d, "")
				if !strings.Contains(out, shellAlert) {
					t.Fatalf("tags and desc changed what fires:\n%s", out)
				}
				for tag, alert := range map[string]bool{"team_x": true, "container": false, "shell": true} {
					if got := strings.Contains(replayTag(t, v, p, tag), shellAlert); got != alert {
						t.Errorf("replayed with the rules tagged %s only: alert %v, want %v", tag, got, alert)
					}
				}
				desc, tags := loadedRule(t, v, p, shellRule)
				if strings.TrimSpace(desc) != "Team shell watch" { // a folded block ends with a line break
					t.Errorf("Falco loads the description %q", desc)
				}
				if (v != "0.32.1" || tags != nil) && (!slices.Contains(tags, "team_x") || slices.Contains(tags, "container")) {
					t.Errorf("Falco loads the tags %q", tags)
				}
			})
		}
	}
}

// replayTag replays the capture through the files of a plan with only the
// rules carrying tag enabled.
func replayTag(t *testing.T, version string, p *Plan, tag string) string {
	t.Helper()
	var args []string
	for _, f := range p.order {
		args = append(args, "-r", hostPath(p.opts.Root, f))
	}
	if version == "0.32.1" {
		args = append(args, "-t", tag)
	} else { // -t is gone from 0.38: the config's rules selection does it
		args = append(args, "-o", "rules[].disable.rule=*", "-o", "rules[].enable.tag="+tag)
	}
	return realfalco.Replay(t, version, hostPath(p.opts.Root, policy.DefaultConfig), capture, args...)
}

// loadedRule is a rule's description and tags as `falco -L` lists them:
// JSON from 0.38 (with tags), a text table before (no tags: nil).
func loadedRule(t *testing.T, version string, p *Plan, name string) (string, []string) {
	t.Helper()
	args := loadArgs(p.opts.Root, p, "-r")
	if version != "0.32.1" {
		args = append(args, "-o", "json_output=true")
	}
	out, errOut, code := realfalco.Run(t, realfalco.Binary(t, version), append(args, "-L")...)
	if code != 0 {
		t.Fatalf("falco -L: exit %d:\n%s", code, errOut)
	}
	if version == "0.32.1" {
		for _, l := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(l, name+" "); ok {
				return strings.TrimSpace(rest), nil
			}
		}
		t.Fatalf("falco -L does not list %q:\n%.2000s", name, out)
	}
	var list struct {
		Rules []struct {
			Info struct {
				Name        string   `json:"name"`
				Description string   `json:"description"`
				Tags        []string `json:"tags"`
			} `json:"info"`
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("falco -L output is not JSON: %v\n%.500s", err, out)
	}
	for _, r := range list.Rules {
		if r.Info.Name == name {
			return r.Info.Description, r.Info.Tags
		}
	}
	t.Fatalf("falco -L does not list %q", name)
	return "", nil
}

// A condition Falco cannot compile is refused by the gate before anything
// is written, and the refusal names the policy block it came from.
func TestRealFalcoConditionRefused(t *testing.T) {
	for _, v := range realfalco.Versions {
		t.Run(v, func(t *testing.T) {
			root := realNode(t, v)
			o := opts(root)
			o.FalcoBinary, o.FalcoVersion = realfalco.Binary(t, v), v
			d := macroPolicy(policy.InPlace, policy.Macro{Name: "spawned_process", Condition: &policy.Condition{Append: "and not proc.name = = sh"}})
			before := readNode(t, root, rulesPath)
			p, err := MakePlan(d, o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Apply(p)
			if err == nil || !strings.Contains(err.Error(), "falco -V rejects") ||
				!strings.Contains(err.Error(), `The condition comes from the policy's condition block at tuning.hcl:1,1 (macro "spawned_process")`) {
				t.Fatalf("want falco -V to refuse the condition and name the block, got %v", err)
			}
			if readNode(t, root, rulesPath) != before {
				t.Fatal("the refused edit was written")
			}
		})
	}
}
