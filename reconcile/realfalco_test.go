//go:build realfalco

package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

// The real-Falco tier of this package: every rule of every upstream rules
// file in testdata is edited at once, and the matching real Falco loads the
// result. Run with RULEKEEPER_FALCO_DIR set (README.md, "Tests").

// realNode is a node whose files the real Falco of its version loads.
func realNode(t testing.TB, version string) string {
	return realfalco.Node(t, "testdata/falco", version)
}

// upstreamRule is one full rule definition of a vendor file, as Falco reads it.
type upstreamRule struct {
	name, output, priority string
	enabled                bool
}

// upstreamRules lists the rules a vendor file defines, last definition winning.
func upstreamRules(t testing.TB, file string) []upstreamRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/falco", file))
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := yaml.Unmarshal(b, &items); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []upstreamRule
	at := map[string]int{}
	for _, it := range items {
		name, ok := it["rule"].(string)
		if !ok || it["condition"] == nil || it["append"] != nil || it["override"] != nil {
			continue
		}
		r := upstreamRule{name: name, output: fmt.Sprint(it["output"]), priority: fmt.Sprint(it["priority"]), enabled: it["enabled"] != false}
		if i, seen := at[name]; seen {
			out[i] = r
			continue
		}
		at[name] = len(out)
		out = append(out, r)
	}
	if len(out) < 20 {
		t.Fatalf("%s: only %d rules found", file, len(out))
	}
	return out
}

// everyRule is a policy that changes every rule of a file: its output gets
// a prefix and an included token, its priority another level, and every
// third rule is turned off (or on, where the vendor ships it off).
func everyRule(s policy.Strategy, rules []upstreamRule) policy.Desired {
	d := policy.Desired{Falco: policy.Falco{Strategy: s}}
	levels := []string{"WARNING", "NOTICE", "CRITICAL", "INFO", "ERROR"}
	for i, r := range rules {
		pr := levels[i%len(levels)]
		if strings.EqualFold(pr, r.priority) {
			pr = levels[(i+1)%len(levels)]
		}
		rule := policy.Rule{
			Name:     r.name,
			Pos:      fmt.Sprintf("every.hcl:%d,1", i+1),
			Output:   &policy.Output{Prefix: "RK-EDIT!", Include: []string{"rk_uid=%user.uid"}},
			Priority: ptr(pr),
		}
		if i%3 == 0 {
			rule.Enabled = ptr(!r.enabled)
		}
		d.Rules = append(d.Rules, rule)
	}
	return d
}

// loadArgs are the node's config and every rules file Falco loads, in its
// order, with the flag that names a file (-V to validate, -r to run).
func loadArgs(root string, p *Plan, flag string) []string {
	args := []string{"-c", hostPath(root, policy.DefaultConfig)}
	for _, f := range p.order {
		args = append(args, flag, hostPath(root, f))
	}
	return args
}

// listedRule is a rule as `falco -L` with json_output describes it (0.38+).
type listedRule struct {
	Info struct {
		Name     string `json:"name"`
		Output   string `json:"output"`
		Priority string `json:"priority"`
		Enabled  bool   `json:"enabled"`
	} `json:"info"`
}

// falcoPriority is how Falco names a priority in its listings.
var falcoPriority = map[string]string{
	"EMERGENCY": "Emergency", "ALERT": "Alert", "CRITICAL": "Critical", "ERROR": "Error",
	"WARNING": "Warning", "NOTICE": "Notice", "INFO": "Informational", "DEBUG": "Debug",
}

func TestRealFalcoEveryRule(t *testing.T) {
	for _, v := range realfalco.Versions {
		bin := realfalco.Binary(t, v)
		rules := upstreamRules(t, realfalco.Packages[v].Rules)
		for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
			t.Run(v+"/"+string(s), func(t *testing.T) {
				root := realNode(t, v)
				o := at(root, v)
				o.FalcoBinary = bin // rulekeeper's own `falco -V` check, with the real Falco
				d := everyRule(s, rules)
				p := mustPlan(t, d, o)
				res, err := Apply(p)
				if err != nil {
					t.Fatalf("apply of %d rules: %v", len(rules), err)
				}
				if !res.Checked {
					t.Fatal("the files were not checked with the real falco -V")
				}
				if n := changedRules(p); n != len(rules) {
					t.Fatalf("the plan changes %d rules, want every one of %d", n, len(rules))
				}
				// Falco loads what was written, on its own.
				out, errOut, code := realfalco.Run(t, bin, loadArgs(root, p, "-V")...)
				if code != 0 {
					t.Fatalf("real Falco %s refuses the edited files (exit %d):\n%s%s", v, code, out, errOut)
				}
				if v == "0.32.1" {
					return // its -L shows no outputs; the exam replay checks what it prints
				}
				checkListed(t, bin, root, p, expected(rules, d))
			})
		}
	}
}

// wantRule is what Falco must use for a rule after the edit.
type wantRule struct {
	output, priority string
	enabled          bool
}

// expected derives, from the upstream file and the policy alone (not from
// what rulekeeper wrote), what Falco must use for every edited rule: the
// include goes right after the prefix, as no upstream output has it.
func expected(rules []upstreamRule, d policy.Desired) map[string]wantRule {
	want := map[string]wantRule{}
	for i, r := range rules {
		dr := d.Rules[i]
		w := wantRule{output: dr.Output.Prefix + " " + strings.Join(dr.Output.Include, " ") + " " + strings.TrimSpace(r.output),
			priority: *dr.Priority, enabled: r.enabled}
		if dr.Enabled != nil {
			w.enabled = *dr.Enabled
		}
		want[r.name] = w
	}
	return want
}

// changedRules counts the rules a plan changes.
func changedRules(p *Plan) int {
	rules := map[string]bool{}
	for _, fc := range p.Files {
		for _, c := range fc.Changes {
			rules[c.Rule] = true
		}
	}
	return len(rules)
}

// checkListed has Falco list its rules after loading the edited files and
// compares what it will use with what the policy asks, rule by rule.
func checkListed(t *testing.T, bin, root string, p *Plan, want map[string]wantRule) {
	t.Helper()
	args := append(loadArgs(root, p, "-r"), "-L", "-o", "json_output=true")
	out, errOut, code := realfalco.Run(t, bin, args...)
	if code != 0 {
		t.Fatalf("falco -L: exit %d:\n%s", code, errOut)
	}
	var list struct{ Rules []listedRule }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("falco -L output is not JSON: %v\n%.500s", err, out)
	}
	seen := 0
	for _, r := range list.Rules {
		w, ok := want[r.Info.Name]
		if !ok {
			continue
		}
		seen++
		if got := strings.TrimSpace(r.Info.Output); got != w.output {
			t.Errorf("%s: Falco uses output\n  %q\nwant\n  %q", r.Info.Name, got, w.output)
		}
		if r.Info.Priority != falcoPriority[w.priority] {
			t.Errorf("%s: Falco uses priority %s, want %s", r.Info.Name, r.Info.Priority, w.priority)
		}
		if r.Info.Enabled != w.enabled {
			t.Errorf("%s: Falco has enabled %v, want %v", r.Info.Name, r.Info.Enabled, w.enabled)
		}
	}
	if seen != len(want) {
		t.Errorf("falco -L lists %d of the %d edited rules", seen, len(want))
	}
}

// What the real Falco refuses is not written, and the message is Falco's.
func TestRealFalcoRefuses(t *testing.T) {
	cases := []struct {
		name, falco string
		node        func(testing.TB, string) string
		desired     policy.Desired
		want        []string // in the error
	}{
		// Falco 0.32.1 knows no field class "usr"; the policy layer refuses it
		// too, but the check must hold for whatever reaches a rules file.
		{"unknown field class", "0.32.1", realNode, examWith(policy.InPlace, func(r *policy.Rule) {
			r.Output.Include = []string{"user_id=%usr.uid"}
		}), []string{"invalid formatting token usr.uid", "/etc/falco/falco_rules.yaml"}},
		// A 0.44.1 node whose falco.yaml does not load the container plugin
		// cannot load falco-rules 5.x at all: nothing is written over it.
		{"0.44.1 without its container plugin", "0.44.1", func(t testing.TB, _ string) string { return node044(t) }, exam(policy.Override),
			[]string{"Plugin requirement not satisfied", "container"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := c.node(t, c.falco)
			o := at(root, c.falco)
			o.FalcoBinary = realfalco.Binary(t, c.falco)
			before := snapshot(t, root)
			_, err := Apply(mustPlan(t, c.desired, o))
			if err == nil {
				t.Fatal("applied; the real Falco should have refused the files")
			}
			for _, w := range append([]string{"falco -V rejects", "nothing was written"}, c.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			sameTree(t, before, snapshot(t, root))
		})
	}
}
