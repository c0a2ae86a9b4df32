package reconcile

import (
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Every rule of every upstream file takes a new priority and a flipped (or
// inserted) `enabled:`: the diff holds exactly those lines, Falco reads the
// new values and the other keys as before, and dropping the rules gives the
// vendor's bytes back.
func TestEveryUpstreamPriorityEnabled(t *testing.T) {
	for _, rules := range []string{"falco_rules-0.32.1.yaml", "falco_rules-3.2.0.yaml", "falco_rules-5.1.0.yaml"} {
		t.Run(rules, func(t *testing.T) {
			root := node(t, map[string]string{rulesPath: rules})
			orig := readNode(t, root, rulesPath)
			var vendor []map[string]any
			if err := yaml.Unmarshal([]byte(orig), &vendor); err != nil {
				t.Fatal(err)
			}
			d := policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace, RulesFiles: []string{rulesPath}}}
			want := map[string]map[string]any{} // rule -> expected keys
			wantLines := 0
			for _, it := range vendor {
				name, ok := it["rule"].(string)
				if !ok || it["append"] == true || it["override"] != nil || want[name] != nil {
					continue
				}
				en, has := it["enabled"].(bool)
				r := policy.Rule{Name: name, Pos: "p.hcl:1,1", Priority: ptr("DEBUG"), Enabled: ptr(!has || !en)}
				d.Rules = append(d.Rules, r)
				exp := map[string]any{}
				for k, v := range it {
					exp[k] = v
				}
				exp["priority"], exp["enabled"] = "DEBUG", *r.Enabled
				want[name] = exp
				if !strings.EqualFold(it["priority"].(string), "DEBUG") {
					wantLines += 2 // < old, > new
				}
				if has {
					wantLines += 2
				} else {
					wantLines++ // > inserted
				}
			}
			mustApply(t, d, opts(root))
			host := filepath.Join(root, rulesPath)
			if got := diffLines(t, filepath.Join("testdata/falco", rules), host); len(got) != wantLines {
				t.Fatalf("diff has %d lines, want %d:\n%s", len(got), wantLines, strings.Join(got, "\n"))
			}
			var after []map[string]any
			if err := yaml.Unmarshal([]byte(readNode(t, root, rulesPath)), &after); err != nil {
				t.Fatalf("the edited file is not YAML: %v", err)
			}
			seen := map[string]bool{}
			for i := len(after) - 1; i >= 0; i-- {
				it := after[i]
				name, _ := it["rule"].(string)
				if want[name] == nil || seen[name] || it["append"] == true || it["override"] != nil {
					continue
				}
				seen[name] = true
				if !reflectEqual(it, want[name]) {
					a, _ := yaml.Marshal(it)
					b, _ := yaml.Marshal(want[name])
					t.Errorf("rule %q reads differently:\n%s", name, udiffText(string(b), string(a)))
				}
			}
			if !mustPlan(t, d, opts(root)).Empty() {
				t.Fatal("second plan not empty")
			}
			d.Rules = nil
			mustApply(t, d, opts(root))
			if readNode(t, root, rulesPath) != orig {
				t.Fatal("not restored byte for byte")
			}
			t.Logf("%d rules, %d diff lines", len(want), wantLines)
		})
	}
}

// Two rules in two files: dropping one restores only it.
func TestTwoRulesTwoFiles(t *testing.T) {
	root := node032(t)
	writeNode(t, root, "/etc/falco/falco_rules.local.yaml", []byte(readNode(t, root, "/etc/falco/falco_rules.local.yaml")+"\n"+redefined("local")))
	local := readNode(t, root, "/etc/falco/falco_rules.local.yaml")
	d := exam(policy.InPlace)
	d.Rules = append(d.Rules, policy.Rule{Name: "Disallowed SSH Connection", Pos: "p.hcl:9,1", Priority: ptr("ERROR")})
	p := mustApply(t, d, opts(root))
	if len(p.Files) != 2 {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	if got := vendorDiff(t, root); got != "<   priority: NOTICE\n>   priority: ERROR" {
		t.Fatalf("vendor diff:\n%s", got)
	}
	// The exam rule leaves the policy: the local file is the site's again.
	d.Rules = d.Rules[1:]
	p = mustApply(t, d, opts(root))
	if len(p.Files) != 1 || p.Files[0].Path != "/etc/falco/falco_rules.local.yaml" {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	if readNode(t, root, "/etc/falco/falco_rules.local.yaml") != local {
		t.Fatal("the local file is not restored")
	}
	if got := vendorDiff(t, root); got != "<   priority: NOTICE\n>   priority: ERROR" {
		t.Fatalf("vendor diff:\n%s", got)
	}
}

// A site adds a redefinition of the rule after rulekeeper edited the vendor
// file: the edit moves to the definition Falco now uses, and the vendor's
// value comes back in one plan.
func TestDefinitionMoves(t *testing.T) {
	root := node032(t)
	mustApply(t, exam(policy.InPlace), opts(root))
	writeNode(t, root, "/etc/falco/rules.d/20-site.yaml", []byte(redefined("site")))
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if len(p.Files) != 2 {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	if got := vendorDiff(t, root); got != "" {
		t.Fatalf("vendor file not restored:\n%s", got)
	}
	if got := readNode(t, root, "/etc/falco/rules.d/20-site.yaml"); !strings.Contains(got, "output: NEW SHELL!!! user_id=%user.uid repo=%container.image.repository site site shell") {
		t.Fatalf("site file:\n%s", got)
	}
}

// Before 0.37 the redefinition follows the vendor file when it changes.
func TestRedefinitionFollowsVendor(t *testing.T) {
	root := node032(t)
	o := at(root, "0.32.1")
	mustApply(t, exam(policy.Override), o)
	up := replaceOnce(t, readNode(t, root, rulesPath), "    and container_entrypoint\n", "    and container_entrypoint and proc.pname != runc\n")
	writeNode(t, root, rulesPath, []byte(up))
	p := mustApply(t, exam(policy.Override), o)
	if len(p.Files) != 1 || p.Files[0].Path != ownPath {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	if !strings.Contains(readNode(t, root, ownPath), "    and container_entrypoint and proc.pname != runc\n") {
		t.Fatal("the redefinition does not carry the vendor's new condition")
	}
	if readNode(t, root, rulesPath) != up {
		t.Fatal("the vendor file was touched")
	}
}
