package reconcile

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

func excPolicy(s policy.Strategy, rule string, ex ...policy.Exception) policy.Desired {
	for i := range ex {
		ex[i].Pos = "tuning.hcl:3,3"
	}
	return policy.Desired{Falco: policy.Falco{Strategy: s}, Rules: []policy.Rule{{Name: rule, Pos: "tuning.hcl:1,1", Exceptions: ex}}}
}

func row(vals ...any) []policy.ExceptionValue {
	out := make([]policy.ExceptionValue, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			out[i] = policy.ExceptionValue{Text: v}
		case []string:
			out[i] = policy.ExceptionValue{List: v}
		}
	}
	return out
}

// debugImage is a new exception on the image and the shell, with a list
// value for `in`.
var debugImage = policy.Exception{Name: "payments_debug", Fields: []string{"container.image.repository", "proc.name"},
	Comps: []string{"=", "in"}, Values: [][]policy.ExceptionValue{row("registry.example.com/payments/debug", []string{"sh", "bash"}), row("nginx", []string{"sh"})}}

// A new exception on a rule that has none: the `exceptions:` key is added
// after the rule's last value in the file's layout, a second pass plans
// nothing, and leaving the policy restores the vendor's bytes.
func TestExceptionInPlaceNew(t *testing.T) {
	root := node032(t)
	d := excPolicy(policy.InPlace, shellRule, debugImage)
	p := mustApply(t, d, opts(root))
	want := "  tags: [container, shell, mitre_execution]\n" +
		"  exceptions:\n" +
		"    - name: payments_debug\n" +
		"      fields: [container.image.repository, proc.name]\n" +
		"      comps: [=, in]\n" +
		"      values:\n" +
		"        - [registry.example.com/payments/debug, [sh, bash]]\n" +
		"        - [nginx, [sh]]\n\n"
	if got := readNode(t, root, rulesPath); !strings.Contains(got, want) {
		t.Fatalf("the rule does not end with the exception:\n%s", vendorDiff(t, root))
	}
	if diff := vendorDiff(t, root); strings.Count("\n"+diff, "\n>") != 7 || strings.Contains(diff, "<") {
		t.Fatalf("want 7 added lines and nothing else changed:\n%s", diff)
	}
	if c := p.Files[0].Changes; len(c) != 1 || c[0].Field != "exceptions" || c[0].Old != "" ||
		c[0].New != "[payments_debug: fields=[container.image.repository proc.name] comps=[= in] values=[[registry.example.com/payments/debug [sh bash]] [nginx [sh]]]]" {
		t.Fatalf("changes: %+v", c)
	}
	if p := mustPlan(t, d, opts(root)); !p.Empty() {
		t.Fatalf("second pass plans %s", p.Summary())
	}
	mustApply(t, excPolicy(policy.InPlace, shellRule), opts(root))
	if diff := vendorDiff(t, root); diff != "" {
		t.Fatalf("the exception left the policy, the file still differs from the vendor's:\n%s", diff)
	}
}

// teamRule is a vendor rule with exceptions in the layouts Falco's files
// use: block values, flow values, a single field, one with no values yet.
const teamRule = `- rule: Team rule
  desc: x
  condition: spawned_process and proc.name = sh
  output: team (proc=%proc.name)
  priority: WARNING
  exceptions:
    - name: proc_writer
      fields: [proc.name, proc.pname]
      comps: [=, in]
      values:
        - [npm, [node, yarn]]   # the build
    - name: flow_values
      fields: [proc.name]
      values: [[make]]
    - name: single
      fields: proc.name
      comps: in
      values: [a, b]
    - name: empty
      fields: [proc.name]
  tags: [team]
`

// Values for the vendor's exceptions land after its own rows, in each
// layout; new exceptions after the vendor's; all comes back out.
func TestExceptionInPlaceValues(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte(teamRule))
	d := excPolicy(policy.InPlace, "Team rule",
		policy.Exception{Name: "proc_writer", Values: [][]policy.ExceptionValue{row("bash", []string{"x"}), row("npm", []string{"node", "yarn"})}},
		policy.Exception{Name: "flow_values", Values: [][]policy.ExceptionValue{row("cmake")}},
		policy.Exception{Name: "single", Values: [][]policy.ExceptionValue{row("c")}},
		policy.Exception{Name: "empty", Fields: []string{"proc.name"}, Values: [][]policy.ExceptionValue{row("yes")}},
		policy.Exception{Name: "team_new", Fields: []string{"proc.pname"}, Comps: []string{"startswith"}, Values: [][]policy.ExceptionValue{row("run")}},
	)
	mustApply(t, d, opts(root))
	want := strings.NewReplacer(
		"yarn]]   # the build\n", "yarn]]   # the build\n        - [bash, [x]]\n        - [npm, [node, yarn]]\n",
		"values: [[make]]", "values: [[make], [cmake]]",
		"values: [a, b]", "values: [a, b, c]",
		"      fields: [proc.name]\n  tags", "      fields: [proc.name]\n      values:\n        - [\"yes\"]\n"+
			"    - name: team_new\n      fields: [proc.pname]\n      comps: [startswith]\n      values:\n        - [run]\n  tags",
	).Replace(teamRule)
	if got := readNode(t, root, localPath); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if p := mustPlan(t, d, opts(root)); !p.Empty() {
		t.Fatalf("second pass plans %s", p.Summary())
	}
	mustApply(t, excPolicy(policy.InPlace, "Team rule"), opts(root))
	if got := readNode(t, root, localPath); got != teamRule {
		t.Fatalf("not restored:\n%s", got)
	}
}

// A managed exception edited by hand is put back as drift.
func TestExceptionDrift(t *testing.T) {
	root := node032(t)
	d := excPolicy(policy.InPlace, shellRule, debugImage)
	mustApply(t, d, opts(root))
	got := readNode(t, root, rulesPath)
	writeNode(t, root, rulesPath, []byte(strings.Replace(got, "[nginx, [sh]]", "[nginx, [sh, zsh]]", 1)))
	p := mustPlan(t, d, opts(root))
	if len(p.Files) != 1 || len(p.Files[0].Changes) != 1 || p.Files[0].Changes[0].Reason != ReasonDrift {
		t.Fatalf("want one drift change, got %s", p.Summary())
	}
	if _, err := Apply(p); err != nil {
		t.Fatal(err)
	}
	if readNode(t, root, rulesPath) != got {
		t.Fatal("drift not put back")
	}
}

// The exceptions the vendor's rule does not allow are refused with the
// policy's position and a suggestion.
func TestExceptionRefusals(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte(teamRule))
	for _, tc := range []struct {
		name string
		ex   policy.Exception
		want []string
	}{
		{"values for an exception the rule lacks", policy.Exception{Name: "proc_writr", Values: [][]policy.ExceptionValue{row("a", []string{"b"})}},
			[]string{`tuning.hcl:3,3: exception "proc_writr": rule "Team rule" has no exception of that name to add values to. Did you mean "proc_writer"? Its exceptions are proc_writer, flow_values, single, empty.`}},
		{"a vendor name with other fields", policy.Exception{Name: "proc_writer", Fields: []string{"proc.name"}, Values: [][]policy.ExceptionValue{row("a")}},
			[]string{`exception "proc_writer": rule "Team rule" already has an exception of that name, with fields [proc.name, proc.pname] and comps [=, in]`}},
		{"a row of the wrong length", policy.Exception{Name: "proc_writer", Values: [][]policy.ExceptionValue{row("a")}},
			[]string{`a row has 1 values for the 2 fields [proc.name, proc.pname] of the vendor's exception`}},
		{"a list for =", policy.Exception{Name: "flow_values", Values: [][]policy.ExceptionValue{row([]string{"a", "b"})}},
			[]string{`a list value for proc.name, which the vendor's exception compares with "="`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
				o := opts(root)
				o.FalcoVersion = "0.40.0"
				_, err := MakePlan(excPolicy(s, "Team rule", tc.ex), o)
				for _, w := range tc.want {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Fatalf("%s: want %q, got %v", s, w, err)
					}
				}
			}
		})
	}
	_, err := MakePlan(excPolicy(policy.InPlace, shellRule, policy.Exception{Name: "x", Values: [][]policy.ExceptionValue{row("a")}}), opts(root))
	if err == nil || !strings.Contains(err.Error(), "The rule defines no exception.") {
		t.Fatalf("want a refusal for a rule without exceptions, got %v", err)
	}
	// An exception with fewer comps than fields, which Falco refuses (all three versions).
	writeNode(t, root, localPath, []byte(strings.Replace(teamRule, "comps: [=, in]", "comps: [=]", 1)))
	_, err = MakePlan(excPolicy(policy.InPlace, "Team rule", policy.Exception{Name: "proc_writer", Values: [][]policy.ExceptionValue{row("a", []string{"b"})}}), opts(root))
	if err == nil || !strings.Contains(err.Error(), "the vendor's exception has 2 fields and 1 comps, which Falco refuses") {
		t.Fatalf("want a refusal naming the vendor's comps, got %v", err)
	}
}

// The drop-in: from 0.37 an `override: {exceptions: append}` entry, before
// it an `append: true` entry; values alone for the vendor's exception.
func TestExceptionOverride(t *testing.T) {
	for _, tc := range []struct {
		version, want string
	}{
		{"0.40.0", "- rule: Team rule\n  exceptions:\n    - name: proc_writer\n      values:\n        - [bash, [x]]\n" +
			"    - name: team_new\n      fields: [proc.pname]\n      values:\n        - [run]\n  override:\n    exceptions: append\n"},
		{"0.32.1", "- rule: Team rule\n  append: true\n  exceptions:\n    - name: proc_writer\n      values:\n        - [bash, [x]]\n" +
			"    - name: team_new\n      fields: [proc.pname]\n      values:\n        - [run]\n"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			root := node032(t)
			writeNode(t, root, localPath, []byte(teamRule))
			o := opts(root)
			o.FalcoVersion = tc.version
			d := excPolicy(policy.Override, "Team rule",
				policy.Exception{Name: "proc_writer", Values: [][]policy.ExceptionValue{row("bash", []string{"x"})}},
				policy.Exception{Name: "team_new", Fields: []string{"proc.pname"}, Values: [][]policy.ExceptionValue{row("run")}})
			mustApply(t, d, o)
			if got := readNode(t, root, policy.DefaultOverrideFile); !strings.HasSuffix(got, "\n"+tc.want) {
				t.Fatalf("got\n%s\nwant it to end with\n%s", got, tc.want)
			}
			if got := readNode(t, root, localPath); got != teamRule {
				t.Fatalf("the vendor's file changed:\n%s", got)
			}
		})
	}
}

// Rules in other layouts: a flow mapping gains `exceptions: [...]` as a
// flow value; a file of two documents is checked whole; a flow list of
// exceptions gains a flow mapping. Each comes back out byte for byte.
func TestExceptionLayouts(t *testing.T) {
	team := policy.Exception{Name: "team", Fields: []string{"proc.name"}, Values: [][]policy.ExceptionValue{row("sh"), row("yes")}}
	for _, tc := range []struct {
		name, vendor, want string
	}{
		{"flow mapping", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING}\n",
			`- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, exceptions: [{name: team, fields: [proc.name], values: [[sh], ["yes"]]}]}` + "\n"},
		{"flow mapping with a trailing comma", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, }\n",
			`- {rule: Team rule, desc: x, condition: proc.name = sh, output: team, priority: WARNING, exceptions: [{name: team, fields: [proc.name], values: [[sh], ["yes"]]}], }` + "\n"},
		{"flow mapping on lines of its own", "- {rule: Team rule, desc: x, condition: proc.name = sh, output: team,\n   priority: WARNING\n  }\n",
			"- {rule: Team rule, desc: x, condition: proc.name = sh, output: team,\n   priority: WARNING, exceptions: [{name: team, fields: [proc.name], values: [[sh], [\"yes\"]]}]\n  }\n"},
		{"flow list of exceptions", "- rule: Team rule\n  desc: x\n  condition: proc.name = sh\n  output: team\n  priority: WARNING\n  exceptions: []\n",
			"- rule: Team rule\n  desc: x\n  condition: proc.name = sh\n  output: team\n  priority: WARNING\n  exceptions: [{name: team, fields: [proc.name], values: [[sh], [\"yes\"]]}]\n"},
		{"two documents", "- list: x\n  items: [a]\n---\n- rule: Team rule\n  desc: x\n  condition: proc.name = sh\n  output: team\n  priority: WARNING\n",
			"- list: x\n  items: [a]\n---\n- rule: Team rule\n  desc: x\n  condition: proc.name = sh\n  output: team\n  priority: WARNING\n" +
				"  exceptions:\n    - name: team\n      fields: [proc.name]\n      values:\n        - [sh]\n        - [\"yes\"]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			editedAndBack(t, node032(t), localPath, excPolicy(policy.InPlace, "Team rule", team), tc.vendor, tc.want)
		})
	}
}

// Falco loads an `exceptions:` key with no value as no exceptions (0.40.0
// and 0.44.1 with a schema warning). rulekeeper does not write into it: it
// asks for `[]`, naming the rule, and writes nothing.
func TestExceptionsWithNoValueRefused(t *testing.T) {
	for _, null := range []string{"", " ~", " null"} {
		root := node032(t)
		writeNode(t, root, localPath, []byte("- rule: Team rule\n  desc: x\n  condition: proc.name = sh\n  output: team\n  priority: WARNING\n  exceptions:"+null+"\n"))
		before := snapshot(t, root)
		_, err := MakePlan(excPolicy(policy.InPlace, "Team rule", policy.Exception{Name: "team", Fields: []string{"proc.name"}, Values: [][]policy.ExceptionValue{row("sh")}}), opts(root))
		if err == nil || !strings.Contains(err.Error(), localPath+`:1: rule "Team rule": the rule's exceptions are empty: write `+"`exceptions: []`") {
			t.Fatalf("exceptions:%s: got %v", null, err)
		}
		if !maps.Equal(snapshot(t, root), before) {
			t.Fatal("files changed")
		}
	}
}

// Before 0.37 a rule whose output changes too is redefined whole in the
// drop-in, with the exception spliced into the copy as in place.
func TestExceptionRedefinition(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte(teamRule))
	o := opts(root)
	o.FalcoVersion = "0.32.1"
	d := excPolicy(policy.Override, "Team rule", policy.Exception{Name: "flow_values", Values: [][]policy.ExceptionValue{row("cmake")}})
	d.Rules[0].Output = &policy.Output{Prefix: "TEAM"}
	mustApply(t, d, o)
	got := readNode(t, root, policy.DefaultOverrideFile)
	if !strings.Contains(got, "# copied from /etc/falco/falco_rules.local.yaml:1\n- rule: Team rule\n") ||
		!strings.Contains(got, "  output: TEAM team (proc=%proc.name)\n") || !strings.Contains(got, "      values: [[make], [cmake]]\n") ||
		strings.Contains(got, "append: true") {
		t.Fatalf("want a redefinition with the new output and values:\n%s", got)
	}
}

// In place, an entry after the definition that replaces the exceptions
// would drop the edit: refused, naming it.
func TestExceptionReplacedLater(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte(teamRule+"\n- rule: Team rule\n  exceptions: []\n  override:\n    exceptions: replace\n"))
	_, err := MakePlan(excPolicy(policy.InPlace, "Team rule", policy.Exception{Name: "flow_values", Values: [][]policy.ExceptionValue{row("cmake")}}), opts(root))
	if err == nil || !strings.Contains(err.Error(), "sets its exceptions again after the definition") {
		t.Fatalf("want a refusal naming the override entry, got %v", err)
	}
}

// A new vendor file (a package upgrade) gets the exception again, on top
// of the new file.
func TestExceptionUpgrade(t *testing.T) {
	root := node032(t)
	d := excPolicy(policy.InPlace, shellRule, debugImage)
	mustApply(t, d, opts(root))
	orig, err := os.ReadFile(vendor032)
	if err != nil {
		t.Fatal(err)
	}
	upgraded := strings.Replace(string(orig), "- rule: Terminal shell in container\n", "# a new release\n- rule: Terminal shell in container\n", 1)
	writeNode(t, root, rulesPath, []byte(upgraded))
	p := mustApply(t, d, opts(root))
	if len(p.Files) != 1 || p.Files[0].Changes[0].Reason != ReasonUpgrade {
		t.Fatalf("want the exception applied on the new file, got %s", p.Summary())
	}
	got := readNode(t, root, rulesPath)
	if !strings.Contains(got, "# a new release\n") || strings.Count(got, "- name: payments_debug\n") != 1 {
		t.Fatalf("the new vendor file does not carry the exception once:\n%s", got)
	}
	mustApply(t, excPolicy(policy.InPlace, shellRule), opts(root))
	if readNode(t, root, rulesPath) != upgraded {
		t.Fatal("the exception left the policy: the new vendor file is not back byte for byte")
	}
}

// everyRuleException gives every rule definition of an upstream file an
// exception on proc.name (the upstream files here hold syscall rules only).
func everyRuleException(t testing.TB, file string, s policy.Strategy) policy.Desired {
	t.Helper()
	b, err := os.ReadFile("testdata/falco/" + file)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := readRules(file, b, false)
	if err != nil {
		t.Fatal(err)
	}
	d := policy.Desired{Falco: policy.Falco{Strategy: s}}
	seen := map[string]bool{}
	for i, it := range rf.items {
		m, err := rf.entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if it.kind != "rule" || seen[it.name] || !defines(m) {
			continue
		}
		seen[it.name] = true
		d.Rules = append(d.Rules, policy.Rule{Name: it.name, Pos: "every.hcl:1,1", Exceptions: []policy.Exception{{
			Name: "rk_quiet", Fields: []string{"proc.name", "proc.pname"}, Comps: []string{"=", "in"},
			Values: [][]policy.ExceptionValue{row("rk-none", []string{"rk-a", "rk-b"})}, Pos: "every.hcl:2,3"}}})
	}
	if len(d.Rules) < 20 {
		t.Fatalf("%s: only %d rules", file, len(d.Rules))
	}
	return d
}

// exceptionChanges counts the rules whose exceptions a plan changes.
func exceptionChanges(p *Plan) int {
	n := 0
	for _, fc := range p.Files {
		for _, c := range fc.Changes {
			if c.Field == "exceptions" {
				n++
			}
		}
	}
	return n
}

// Every rule of Falco 0.32.1's file gains an exception in place, a second
// pass plans nothing, and the file comes back byte for byte.
func TestEveryRuleExceptionInPlace(t *testing.T) {
	root := node032(t)
	d := everyRuleException(t, "falco_rules-0.32.1.yaml", policy.InPlace)
	p := mustApply(t, d, opts(root))
	if n := exceptionChanges(p); n != len(d.Rules) {
		t.Fatalf("%d rules changed, want %d", n, len(d.Rules))
	}
	if p := mustPlan(t, d, opts(root)); !p.Empty() {
		t.Fatalf("second pass: %s", p.Summary())
	}
	mustApply(t, excPolicy(policy.InPlace, shellRule), opts(root))
	if diff := vendorDiff(t, root); diff != "" {
		t.Fatalf("not restored:\n%s", diff)
	}
}

// Rows go after the vendor's last row or key even where it is a flow list
// over several lines, after a comment ending its line, after blanks that
// end its line, and before anything else that follows on the line.
func TestExceptionValuesAfterFlowNodes(t *testing.T) {
	const head = "- rule: Team rule\n  desc: x\n  condition: proc.name = sh\n  output: team\n  priority: WARNING\n  exceptions:\n"
	for _, tc := range []struct{ name, vendor, want string }{
		{"last row over two lines", "    - name: e\n      fields: [proc.name, proc.pname]\n      values:\n        - [a, b]\n        - [c,\n           d]\n  tags: [t]\n",
			"    - name: e\n      fields: [proc.name, proc.pname]\n      values:\n        - [a, b]\n        - [c,\n           d]\n        - [x, z]\n  tags: [t]\n"},
		{"fields over two lines, a comment", "    - name: e\n      fields: [proc.name,\n        proc.pname]  # two\n  tags: [t]\n",
			"    - name: e\n      fields: [proc.name,\n        proc.pname]  # two\n      values:\n        - [x, z]\n  tags: [t]\n"},
		{"blanks after the last row", "    - name: e\n      fields: [proc.name, proc.pname]\n      values:\n        - [a, b]   \n  tags: [t]\n",
			"    - name: e\n      fields: [proc.name, proc.pname]\n      values:\n        - [a, b]   \n        - [x, z]\n  tags: [t]\n"},
		{"the last row ends the file, with no line break", "    - name: e\n      fields: [proc.name, proc.pname]\n      values:\n        - [a, b]",
			"    - name: e\n      fields: [proc.name, proc.pname]\n      values:\n        - [a, b]\n        - [x, z]"},
		{"a blank before the bracket", "    - name: e\n      fields: [proc.name, proc.pname]\n      values: [[a, b] ]\n  tags: [t]\n",
			"    - name: e\n      fields: [proc.name, proc.pname]\n      values: [[a, b], [x, z] ]\n  tags: [t]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := excPolicy(policy.InPlace, "Team rule", policy.Exception{Name: "e", Values: [][]policy.ExceptionValue{row("x", "z")}})
			editedAndBack(t, node032(t), localPath, d, head+tc.vendor, head+tc.want)
		})
	}
}
