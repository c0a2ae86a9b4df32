package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

func macroPolicy(s policy.Strategy, macros ...policy.Macro) policy.Desired {
	for i := range macros {
		macros[i].Pos = "tuning.hcl:1,1"
	}
	return policy.Desired{Falco: policy.Falco{Strategy: s}, Macros: macros}
}

func rulePolicy(s policy.Strategy, rules ...policy.Rule) policy.Desired {
	for i := range rules {
		rules[i].Pos = "tuning.hcl:1,1"
	}
	return policy.Desired{Falco: policy.Falco{Strategy: s}, Rules: rules}
}

const shellRule = "Terminal shell in container"

// A macro's condition, a rule's condition, tags and desc edited in place
// change only those values, in the file's layout; a second pass changes
// nothing; the policy without them gives the vendor's bytes back.
func TestConditionsInPlace(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    policy.Desired
		diff string // diff(1) changed lines against the vendor file
	}{
		{"append to a one-line macro", macroPolicy(policy.InPlace, policy.Macro{Name: "spawned_process", Condition: &policy.Condition{Append: "and not proc.name = sh"}}),
			"<   condition: evt.type in (execve, execveat) and evt.dir=<\n>   condition: evt.type in (execve, execveat) and evt.dir=< and not proc.name = sh"},
		{"replace a macro", macroPolicy(policy.InPlace, policy.Macro{Name: "user_expected_terminal_shell_in_container_conditions", Condition: &policy.Condition{Replace: ptr("proc.name = sh")}}),
			"<   condition: (never_true)\n>   condition: proc.name = sh"},
		{"append to a folded rule condition", rulePolicy(policy.InPlace, policy.Rule{Name: shellRule, Condition: &policy.Condition{Append: "and not proc.name = sh"}}),
			">     and not proc.name = sh"},
		{"replace a rule condition", rulePolicy(policy.InPlace, policy.Rule{Name: "Write below etc", Condition: &policy.Condition{Replace: ptr("write_etc_common and not proc.name = vi")}}),
			"<   condition: write_etc_common\n>   condition: write_etc_common and not proc.name = vi"},
		{"tags: add and remove in a flow list", rulePolicy(policy.InPlace, policy.Rule{Name: shellRule, Tags: &policy.Tags{Add: []string{"team_x"}, Remove: []string{"mitre_execution"}}}),
			"<   tags: [container, shell, mitre_execution]\n>   tags: [container, shell, team_x]"},
		{"tags: replace", rulePolicy(policy.InPlace, policy.Rule{Name: "Write below etc", Tags: &policy.Tags{Replace: true, Items: []string{"team_x"}}}),
			"<   tags: [filesystem, mitre_persistence]\n>   tags: [team_x]"},
		{"desc", rulePolicy(policy.InPlace, policy.Rule{Name: "Write below etc", Desc: ptr("a write below /etc: the team's tools are expected to")}),
			"<   desc: an attempt to write to any file below /etc\n>   desc: \"a write below /etc: the team's tools are expected to\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			mustApply(t, tc.d, opts(root))
			got := vendorDiff(t, root)
			if !strings.Contains(got, tc.diff) || len(strings.Split(got, "\n")) > len(strings.Split(tc.diff, "\n"))+2 {
				t.Fatalf("diff against the vendor file:\n%s\nwant:\n%s", got, tc.diff)
			}
			if p := mustPlan(t, tc.d, opts(root)); !p.Empty() {
				t.Fatalf("second pass plans %s", p.Summary())
			}
			mustApply(t, policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}}, opts(root))
			if d := vendorDiff(t, root); d != "" {
				t.Fatalf("the block left the policy, the file still differs from the vendor's:\n%s", d)
			}
		})
	}
}

// Drift on a managed macro condition is put back, with its kind and
// reason; a block list of tags and an absent desc keep the file's layout.
func TestConditionsDriftAndLayouts(t *testing.T) {
	root := node032(t)
	mac := macroPolicy(policy.InPlace, policy.Macro{Name: "spawned_process", Condition: &policy.Condition{Append: "and not proc.name = sh"}})
	mustApply(t, mac, opts(root))
	h := filepath.Join(root, rulesPath)
	b, _ := os.ReadFile(h)
	os.WriteFile(h, []byte(strings.Replace(string(b), "and not proc.name = sh", "and not proc.name = bash", 1)), 0o644)
	p := mustPlan(t, mac, opts(root))
	if len(p.Files) != 1 || len(p.Files[0].Changes) != 1 || p.Files[0].Changes[0].Reason != ReasonDrift || p.Files[0].Changes[0].Kind != "macro" {
		t.Fatalf("want one drift change of the macro, got %s", p.Summary())
	}

	local := "- rule: Team rule\n  desc: >-\n    the team's\n  condition: >\n    spawned_process and\n    proc.name = x\n  output: x\n  priority: INFO\n  tags:\n    - team\n    - old\n\n" +
		"- rule: Untagged\n  desc: x\n  condition: spawned_process\n  output: x\n  priority: INFO # no tags\n"
	writeNode(t, root, localPath, []byte(local))
	d := rulePolicy(policy.InPlace, policy.Rule{Name: "Team rule", Tags: &policy.Tags{Remove: []string{"old"}, Add: []string{"new"}},
		Desc: ptr("the team's rule"), Condition: &policy.Condition{Append: "and not user.name = root"}},
		policy.Rule{Name: "Untagged", Tags: &policy.Tags{Add: []string{"team", "yes"}}})
	mustApply(t, d, opts(root))
	want := "- rule: Team rule\n  desc: >-\n    the team's rule\n  condition: >\n    spawned_process and\n    proc.name = x\n    and not user.name = root\n  output: x\n  priority: INFO\n  tags:\n    - team\n    - new\n\n" +
		"- rule: Untagged\n  desc: x\n  condition: spawned_process\n  output: x\n  priority: INFO # no tags\n  tags: [team, \"yes\"]\n"
	if got := readNode(t, root, localPath); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	mustApply(t, rulePolicy(policy.InPlace), opts(root))
	if got := readNode(t, root, localPath); got != local {
		t.Fatalf("not restored:\n%s", got)
	}
}

// Names that no file defines get a suggestion; an in-place edit that a
// later entry would undo is refused.
func TestConditionsRefusals(t *testing.T) {
	root := node032(t)
	_, err := MakePlan(macroPolicy(policy.InPlace, policy.Macro{Name: "spawned_proces", Condition: &policy.Condition{Append: "and x"}}), opts(root))
	if err == nil || !strings.Contains(err.Error(), `tuning.hcl:1,1: macro "spawned_proces" is not defined`) || !strings.Contains(err.Error(), `Did you mean "spawned_process"?`) {
		t.Fatalf("want an unknown macro with a suggestion, got %v", err)
	}
	_, err = MakePlan(rulePolicy(policy.InPlace, policy.Rule{Name: "Terminal shell in containr", Desc: ptr("x")}), opts(root))
	if err == nil || !strings.Contains(err.Error(), `Did you mean "Terminal shell in container"?`) {
		t.Fatalf("want an unknown rule with a suggestion, got %v", err)
	}

	writeNode(t, root, localPath, []byte("- macro: spawned_process\n  append: true\n  condition: and proc.name != x\n\n"+
		"- rule: Terminal shell in container\n  append: true\n  condition: and not proc.name = sh\n"))
	replace := &policy.Condition{Replace: ptr("evt.type = execve")}
	_, err = MakePlan(macroPolicy(policy.InPlace, policy.Macro{Name: "spawned_process", Condition: replace}), opts(root))
	if err == nil || !strings.Contains(err.Error(), "/etc/falco/falco_rules.local.yaml:1 appends to its condition after the definition rulekeeper edits") {
		t.Fatalf("want the macro replace refused for the later append, got %v", err)
	}
	_, err = MakePlan(rulePolicy(policy.InPlace, policy.Rule{Name: shellRule, Condition: replace}), opts(root))
	if err == nil || !strings.Contains(err.Error(), "/etc/falco/falco_rules.local.yaml:5 appends to its condition after the definition rulekeeper edits") {
		t.Fatalf("want the rule replace refused for the later append, got %v", err)
	}
	// An append comes before the later one, which still applies: fine.
	mustApply(t, macroPolicy(policy.InPlace, policy.Macro{Name: "spawned_process", Condition: &policy.Condition{Append: "and not proc.name = sh"}}), opts(root))
	mustApply(t, rulePolicy(policy.InPlace, policy.Rule{Name: shellRule, Condition: &policy.Condition{Append: "and not proc.name = sh"}}), opts(root))
}

// The drop-in entries: `override:` from Falco 0.37, `append: true` or a
// definition before.
func TestConditionsOverride(t *testing.T) {
	app := &policy.Condition{Append: "and not proc.name = sh"}
	rep := &policy.Condition{Replace: ptr("proc.name = sh")}
	for _, tc := range []struct {
		name, version string
		d             policy.Desired
		want          string
	}{
		{"macro append, 0.44.1", "0.44.1", macroPolicy(policy.Override, policy.Macro{Name: "spawned_process", Condition: app}),
			"- macro: spawned_process\n  condition: and not proc.name = sh\n  override:\n    condition: append\n"},
		{"macro replace, 0.44.1", "0.44.1", macroPolicy(policy.Override, policy.Macro{Name: "spawned_process", Condition: rep}),
			"- macro: spawned_process\n  condition: proc.name = sh\n  override:\n    condition: replace\n"},
		{"macro append, 0.32.1", "0.32.1", macroPolicy(policy.Override, policy.Macro{Name: "spawned_process", Condition: app}),
			"- macro: spawned_process\n  condition: and not proc.name = sh\n  append: true\n"},
		{"macro replace, 0.32.1", "0.32.1", macroPolicy(policy.Override, policy.Macro{Name: "spawned_process", Condition: rep}),
			"- macro: spawned_process\n  condition: proc.name = sh\n"},
		{"rule condition, tags, desc, 0.44.1", "0.44.1", rulePolicy(policy.Override, policy.Rule{Name: shellRule, Condition: app, Desc: ptr("new"),
			Tags: &policy.Tags{Add: []string{"team_x"}}}),
			"- rule: Terminal shell in container\n  condition: and not proc.name = sh\n  desc: new\n  tags: [team_x]\n  override:\n    condition: append\n    desc: replace\n    tags: append\n"},
		{"rule tags removed, 0.44.1", "0.44.1", rulePolicy(policy.Override, policy.Rule{Name: shellRule, Tags: &policy.Tags{Remove: []string{"shell"}}}),
			"  tags: [maturity_stable, container, mitre_execution, T1059]\n  override:\n    tags: replace\n"},
		{"rule condition append, 0.32.1", "0.32.1", rulePolicy(policy.Override, policy.Rule{Name: shellRule, Condition: app}),
			"- rule: Terminal shell in container\n  condition: and not proc.name = sh\n  append: true\n"},
		{"rule condition replace, 0.32.1", "0.32.1", rulePolicy(policy.Override, policy.Rule{Name: shellRule, Condition: rep, Tags: &policy.Tags{Add: []string{"team_x"}}}),
			"  condition: >\n    proc.name = sh\n  output: >\n" + outLine1 + "\n" + outLine2 + "\n  priority: NOTICE\n  tags: [container, shell, mitre_execution, team_x]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			if tc.version == "0.44.1" {
				root = node044(t)
			}
			o := opts(root)
			o.FalcoVersion = tc.version
			mustApply(t, tc.d, o)
			got := readNode(t, root, policy.DefaultOverrideFile)
			if !strings.HasSuffix(got, tc.want) {
				t.Fatalf("override file:\n%s\nwant it to end with:\n%s", got, tc.want)
			}
			if p := mustPlan(t, tc.d, o); !p.Empty() {
				t.Fatalf("second pass plans %s", p.Summary())
			}
			mustApply(t, policy.Desired{Falco: policy.Falco{Strategy: policy.Override}}, o)
			if _, err := os.Stat(filepath.Join(root, policy.DefaultOverrideFile)); !os.IsNotExist(err) {
				t.Fatalf("the blocks left the policy, the override file stays: %v", err)
			}
		})
	}
}

// The exam's change with a macro's and the rule's condition, tags and desc
// on top: what tuning beyond outputs adds to a first pass.
func BenchmarkPlanExamAndConditions032(b *testing.B) {
	root := node032(b)
	d := exam(policy.InPlace)
	d.Rules[0].Condition = &policy.Condition{Append: "and not proc.name = sh"}
	d.Rules[0].Tags = &policy.Tags{Add: []string{"team_x"}, Remove: []string{"mitre_execution"}}
	d.Rules[0].Desc = ptr("the team's shell watch")
	d.Macros = []policy.Macro{{Name: "spawned_process", Condition: &policy.Condition{Append: "and not proc.name = fish"}, Pos: "b.hcl:1,1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MakePlan(d, opts(root)); err != nil {
			b.Fatal(err)
		}
	}
}

// `tags { items = [...] }` on a rule without tags gives it those tags (the
// key is written), and removing the block takes the key away again.
func TestTagsItemsOnAnUntaggedRule(t *testing.T) {
	root := node032(t)
	local := "- rule: Untagged\n  desc: x\n  condition: spawned_process\n  output: x\n  priority: INFO\n"
	writeNode(t, root, localPath, []byte(local))
	mustApply(t, rulePolicy(policy.InPlace, policy.Rule{Name: "Untagged", Tags: &policy.Tags{Replace: true, Items: []string{"team"}}}), opts(root))
	if got, want := readNode(t, root, localPath), local+"  tags: [team]\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	mustApply(t, rulePolicy(policy.InPlace), opts(root))
	if got := readNode(t, root, localPath); got != local {
		t.Fatalf("not restored:\n%s", got)
	}
}

// A refusal by `falco -V` that names macros and rules points at the
// policy's condition blocks among them, and only at those: a block that
// changes no condition (a desc) is not where the text came from.
func TestConditionHintNamesOnlyConditionBlocks(t *testing.T) {
	d := policy.Desired{
		Macros: []policy.Macro{{Name: "spawned_process", Pos: "p.hcl:1,1", Condition: &policy.Condition{Append: "and x"}}, {Name: "container", Pos: "p.hcl:4,1"}},
		Rules: []policy.Rule{{Name: shellRule, Pos: "p.hcl:7,1", Condition: &policy.Condition{Replace: ptr("x")}},
			{Name: "Read sensitive file untrusted", Pos: "p.hcl:10,1", Desc: ptr("d")}},
	}
	p := &Plan{conditions: conditionBlocks(d)}
	msg := `macro "spawned_process", macro "container", rule "Terminal shell in container" and rule "Read sensitive file untrusted"`
	want := "\nThe condition comes from the policy's condition block at p.hcl:1,1 (macro \"spawned_process\"), p.hcl:7,1 (rule \"Terminal shell in container\"): fix its text there."
	if got := p.conditionHint(msg); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := p.conditionHint("a message naming no block"); got != "" {
		t.Errorf("a message naming no block: %q", got)
	}
}

// A later `override: {condition: replace}` of a macro undoes any edit of
// its definition: an append in place is refused too, naming that entry.
func TestMacroReplacedLaterRefused(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("- macro: spawned_process\n  condition: proc.name = x\n  override:\n    condition: replace\n"))
	_, err := MakePlan(macroPolicy(policy.InPlace, policy.Macro{Name: "spawned_process", Condition: &policy.Condition{Append: "and not proc.name = sh"}}), opts(root))
	if err == nil || !strings.Contains(err.Error(), "replaces its condition after the definition rulekeeper edits") || !strings.Contains(err.Error(), "falco_rules.local.yaml") {
		t.Fatalf("want the later replace named, got %v", err)
	}
}
