package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// redefined is a full definition of the exam rule with its own output, as
// a site would write in a later file.
func redefined(tag string) string {
	return "- rule: Terminal shell in container\n" +
		"  desc: site copy " + tag + "\n" +
		"  condition: spawned_process and container and shell_procs and proc.tty != 0\n" +
		"  output: site " + tag + " shell (user=%user.name)\n" +
		"  priority: NOTICE\n"
}

const appendCondition = "- rule: Terminal shell in container\n  condition: and not proc.name=bash\n  append: true\n"

const overrideCondition = "- rule: Terminal shell in container\n  condition: and not proc.name=bash\n  override:\n    condition: append\n"

// Falco's last definition of a rule is the one edited, in Falco's order of
// files and directories, whichever key of falco.yaml names them.
func TestLastDefinitionWins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		root   func(testing.TB) string
		config string            // falco.yaml replacing the node's, when set
		files  map[string]string // node path -> content
		rules  []string          // the policy's rules_files, when set
		want   string            // the file edited
	}{
		{
			name: "0.32.1 rules_file: local file redefines",
			root: node032,
			files: map[string]string{
				"/etc/falco/falco_rules.local.yaml": redefined("local"),
			},
			want: "/etc/falco/falco_rules.local.yaml",
		},
		{
			name: "0.44.1 rules_files: rules.d comes after the local file",
			root: node044,
			files: map[string]string{
				"/etc/falco/falco_rules.local.yaml": redefined("local"),
				"/etc/falco/rules.d/20-site.yaml":   redefined("site"),
			},
			want: "/etc/falco/rules.d/20-site.yaml",
		},
		{
			name: "0.32.1: directory files in name order",
			root: node032,
			files: map[string]string{
				"/etc/falco/rules.d/30-b.yaml": redefined("b"),
				"/etc/falco/rules.d/10-a.yaml": redefined("a"),
				"/etc/falco/rules.d/20-c.yaml": "# nothing here\n",
			},
			want: "/etc/falco/rules.d/30-b.yaml",
		},
		{
			name: "0.32.1: append entry is not a definition",
			root: node032,
			files: map[string]string{
				"/etc/falco/falco_rules.local.yaml": appendCondition,
			},
			want: rulesPath,
		},
		{
			// Falco 0.32.1 loads it and lists the rule with the first
			// entry's desc: the later one only switches it on.
			name: "0.32.1: an entry without priority is not a definition",
			root: node032,
			files: map[string]string{
				"/etc/falco/falco_rules.local.yaml": strings.Replace(redefined("local"), "  priority: NOTICE\n", "  enabled: true\n", 1),
			},
			want: rulesPath,
		},
		{
			name: "0.44.1: override entry is not a definition",
			root: node044,
			files: map[string]string{
				"/etc/falco/rules.d/20-site.yaml": overrideCondition,
			},
			want: rulesPath,
		},
		{
			name:   "falco.yaml order: the directory first",
			root:   node044,
			config: "rules_files:\n  - /etc/falco/rules.d\n  - /etc/falco/falco_rules.yaml\n",
			files: map[string]string{
				"/etc/falco/rules.d/20-site.yaml": redefined("site"),
			},
			want: rulesPath,
		},
		{
			name:   "0.32.1 key, inline list",
			root:   node032,
			config: "rules_file: [/etc/falco/falco_rules.yaml, /etc/falco/site.yaml]\n",
			files: map[string]string{
				"/etc/falco/site.yaml": redefined("site"),
			},
			want: "/etc/falco/site.yaml",
		},
		{
			name: "the policy's rules_files replace falco.yaml's",
			root: node044,
			files: map[string]string{
				"/etc/falco/rules.d/20-site.yaml": redefined("site"),
			},
			rules: []string{"/etc/falco/falco_rules.yaml"},
			want:  rulesPath,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root(t)
			if tc.config != "" {
				writeNode(t, root, "/etc/falco/falco.yaml", []byte(tc.config))
			}
			for p, c := range tc.files {
				writeNode(t, root, p, []byte(c))
			}
			before := snapshot(t, filepath.Join(root, "etc/falco"))
			d := exam(policy.InPlace)
			d.Falco.RulesFiles = tc.rules
			p := mustApply(t, d, opts(root))
			if len(p.Files) != 1 || p.Files[0].Path != tc.want {
				t.Fatalf("plan edits:\n%s", p.Summary())
			}
			after := snapshot(t, filepath.Join(root, "etc/falco"))
			rel := strings.TrimPrefix(tc.want, "/etc/falco/")
			if after[rel] == before[rel] {
				t.Fatalf("%s not changed", tc.want)
			}
			delete(after, rel)
			delete(before, rel)
			sameTree(t, before, after)
			if !strings.Contains(readNode(t, root, tc.want), "NEW SHELL!!!") {
				t.Fatal("edit not in the file")
			}
		})
	}
}

func TestRuleNotFound(t *testing.T) {
	root := node032(t)
	writeNode(t, root, "/etc/falco/rules.d/10-site.yaml", []byte(appendCondition))
	d := exam(policy.InPlace)
	d.Rules[0].Name = "Terminal shell in containers"
	before := snapshot(t, root)
	_, err := MakePlan(d, opts(root))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"policy.hcl:5,1", `"Terminal shell in containers"`, "/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.local.yaml", "/etc/falco/rules.d/10-site.yaml"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
	sameTree(t, before, snapshot(t, root))

	// An entry that does not exist is named as such.
	os.RemoveAll(filepath.Join(root, "etc/falco/rules.d"))
	_, err = MakePlan(d, opts(root))
	if err == nil || !strings.Contains(err.Error(), "not present: /etc/falco/rules.d") {
		t.Fatalf("error %v does not name the missing directory", err)
	}

	// A rule only appended to is not defined.
	d.Rules[0].Name = examRule
	writeNode(t, root, "/etc/falco/falco_rules.yaml", []byte("- list: x\n  items: []\n"))
	writeNode(t, root, "/etc/falco/falco_rules.local.yaml", []byte(appendCondition))
	_, err = MakePlan(d, opts(root))
	if err == nil || !strings.Contains(err.Error(), "not defined") {
		t.Fatalf("error %v", err)
	}
}

// Without falco.yaml, Falco's own defaults apply.
func TestNoFalcoYAML(t *testing.T) {
	root := node032(t)
	os.Remove(filepath.Join(root, "etc/falco/falco.yaml"))
	writeNode(t, root, "/etc/falco/rules.d/20-site.yaml", []byte(redefined("site")))
	p := mustApply(t, exam(policy.InPlace), opts(root))
	if len(p.Files) != 1 || p.Files[0].Path != "/etc/falco/rules.d/20-site.yaml" {
		t.Fatalf("plan:\n%s", p.Summary())
	}
}
