package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Each bad input gives one clear error naming the file (and line), and
// leaves every file as it was: no write, no temporary file.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, root string)
		d       func() policy.Desired
		wantErr []string
	}{
		{
			name: "rules file not YAML",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, rulesPath, []byte("this is: not: yaml: [\n"))
			},
			wantErr: []string{rulesPath + ":1: mapping values are not allowed"},
		},
		{
			name: "rules file with a tab",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, rulesPath, []byte("- rule: a\n\tdesc: x\n"))
			},
			wantErr: []string{rulesPath + ":2: found a tab character"},
		},
		{
			name: "rules file a mapping, not a list",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, rulesPath, []byte("rules:\n  - rule: x\n"))
			},
			wantErr: []string{rulesPath + ":1: a Falco rules file must be a YAML list"},
		},
		{
			name: "the rule itself broken",
			setup: func(t *testing.T, root string) {
				s := replaceOnce(t, readNode(t, root, rulesPath), examTags, "  tags: [container, shell, mitre_execution\n")
				writeNode(t, root, rulesPath, []byte(s))
			},
			// The line of the unclosed `[`, counted in the file.
			wantErr: []string{rulesPath + ":2027: rule \"Terminal shell in container\": did not find expected ',' or ']'"},
		},
		{
			name: "a later amendment broken",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, "/etc/falco/falco_rules.local.yaml", []byte("# site\n\n- rule: Terminal shell in container\n  append: true\n  condition: [and not\n"))
			},
			wantErr: []string{"/etc/falco/falco_rules.local.yaml:5: rule \"Terminal shell in container\": "},
		},
		{
			name: "empty rules file",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, rulesPath, nil)
			},
			wantErr: []string{`rule "Terminal shell in container" is not defined`, "empty or only comments: " + rulesPath},
		},
		{
			name: "no such rule",
			d: func() policy.Desired {
				return examWith(policy.InPlace, func(r *policy.Rule) { r.Name = "Terminal shell in a container" })
			},
			wantErr: []string{"policy.hcl:5,1", `rule "Terminal shell in a container" is not defined`, rulesPath},
		},
		{
			name: "rules path a symlink leading outside /etc/falco",
			setup: func(t *testing.T, root string) {
				moveOut(t, root, rulesPath, "/tmp/x", "/tmp/x")
			},
			wantErr: []string{rulesPath + " leads to /tmp/x, outside the Falco config directory /etc/falco"},
		},
		{
			name: "relative symlink leading outside",
			setup: func(t *testing.T, root string) {
				moveOut(t, root, rulesPath, "/tmp/x", "../../tmp/x")
			},
			wantErr: []string{rulesPath + " leads to /tmp/x, outside the Falco config directory /etc/falco"},
		},
		{
			name: "rules directory a symlink leading outside",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, "/srv/rules/20-site.yaml", []byte(redefined("site")))
				os.RemoveAll(filepath.Join(root, "etc/falco/rules.d"))
				if err := os.Symlink("/srv/rules", filepath.Join(root, "etc/falco/rules.d")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"/etc/falco/rules.d/20-site.yaml leads to /srv/rules/20-site.yaml, outside the Falco config directory"},
		},
		{
			name: "override file a symlink leading outside",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, "/tmp/own.yaml", []byte(ownHeader))
				if err := os.Symlink("/tmp/own.yaml", filepath.Join(root, ownPath)); err != nil {
					t.Fatal(err)
				}
			},
			d:       func() policy.Desired { return exam(policy.Override) },
			wantErr: []string{ownPath + " leads to /tmp/own.yaml, outside"},
		},
		{
			name: "corrupt state",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, "/var/lib/rulekeeper/state.json", []byte("{not json"))
			},
			wantErr: []string{"var/lib/rulekeeper/state.json: invalid character", "move it away"},
		},
		{
			name: "falco.yaml not YAML",
			setup: func(t *testing.T, root string) {
				writeNode(t, root, "/etc/falco/falco.yaml", []byte("rules_file: [\n"))
			},
			wantErr: []string{"/etc/falco/falco.yaml: line 2: did not find expected node content"},
		},
		{
			name:    "unknown strategy",
			d:       func() policy.Desired { return exam("sideways") },
			wantErr: []string{`unknown strategy "sideways"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			d := exam(policy.InPlace)
			if tc.d != nil {
				d = tc.d()
			}
			before := snapshot(t, root)
			p, err := MakePlan(d, opts(root))
			if err == nil {
				_, err = Apply(p)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\ndoes not say:\n%s", err, w)
				}
			}
			if strings.Count(strings.TrimSpace(err.Error()), "\n") > 0 {
				t.Errorf("more than one line: %q", err)
			}
			sameTree(t, before, snapshot(t, root))
		})
	}
}

// moveOut moves a node file to dst and leaves a symlink to it (target as
// the link's text: relative, or an absolute node path, which resolves
// inside the sandbox as on the node).
func moveOut(t *testing.T, root, p, dst, target string) {
	t.Helper()
	writeNode(t, root, dst, []byte(readNode(t, root, p)))
	if err := os.Remove(filepath.Join(root, p)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
		t.Fatal(err)
	}
}

// A file broken anywhere, not only in the item the pass edits, is refused
// with its line and the item there, before anything is written: bytes
// rulekeeper has not seen before are parsed whole.
func TestBrokenElsewhereRefused(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"an item before", "  tags: [network, mitre_remote_service]\n", "  tags: [network, mitre_remote_service\n",
			rulesPath + ":365: rule \"Disallowed SSH Connection\": did not find expected ',' or ']'"},
		{"an unclosed list at the end", "", "- rule: [unclosed\n", rulesPath + ":3200: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			s := readNode(t, root, rulesPath)
			if tc.from == "" {
				s += tc.to
			} else {
				s = replaceOnce(t, s, tc.from, tc.to)
			}
			writeNode(t, root, rulesPath, []byte(s))
			before := snapshot(t, root)
			_, err := MakePlan(exam(policy.InPlace), opts(root))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error: %v\nwant: %s", err, tc.want)
			}
			sameTree(t, before, snapshot(t, root))
		})
	}
}

// A file changed between plan and apply is not overwritten.
func TestChangedSincePlan(t *testing.T) {
	root := node032(t)
	p := mustPlan(t, exam(policy.InPlace), opts(root))
	writeNode(t, root, rulesPath, []byte(readNode(t, root, rulesPath)+"\n# late edit\n"))
	before := snapshot(t, root)
	_, err := Apply(p)
	if err == nil || !strings.Contains(err.Error(), rulesPath+" changed since the plan was made") {
		t.Fatalf("error: %v", err)
	}
	sameTree(t, before, snapshot(t, root))
}
