package reconcile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// node lays out a sandbox root with Falco files copied from testdata.
// files maps node paths to testdata/falco file names.
func node(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for dst, src := range files {
		data, err := os.ReadFile(filepath.Join("testdata/falco", src))
		if err != nil {
			t.Fatal(err)
		}
		writeNode(t, root, dst, data)
	}
	return root
}

func writeNode(t testing.TB, root, p string, data []byte) {
	t.Helper()
	h := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(h), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readNode(t testing.TB, root, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// node032 is a Falco 0.32.1 node as its package leaves it.
func node032(t testing.TB) string {
	root := node(t, map[string]string{
		"/etc/falco/falco.yaml":             "falco-0.32.1.yaml",
		"/etc/falco/falco_rules.yaml":       "falco_rules-0.32.1.yaml",
		"/etc/falco/falco_rules.local.yaml": "falco_rules.local-0.32.1.yaml",
	})
	os.MkdirAll(filepath.Join(root, "etc/falco/rules.d"), 0o755)
	return root
}

// node044 is a Falco 0.44.1 node: its package ships falco-rules-5.1.0.
func node044(t testing.TB) string {
	root := node(t, map[string]string{
		"/etc/falco/falco.yaml":       "falco-0.44.1.yaml",
		"/etc/falco/falco_rules.yaml": "falco_rules-5.1.0.yaml",
	})
	writeNode(t, root, "/etc/falco/falco_rules.local.yaml", []byte("# Your custom rules!\n"))
	os.MkdirAll(filepath.Join(root, "etc/falco/rules.d"), 0o755)
	return root
}

func ptr[T any](v T) *T { return &v }

// exam is the CKS exam's change, as the example policy declares it.
func exam(s policy.Strategy) policy.Desired {
	return policy.Desired{
		Falco: policy.Falco{Strategy: s},
		Rules: []policy.Rule{{
			Name: "Terminal shell in container",
			Pos:  "policy.hcl:5,1",
			Output: &policy.Output{
				Prefix:  "NEW SHELL!!!",
				Include: []string{"user_id=%user.uid", "repo=%container.image.repository"},
			},
		}},
	}
}

func opts(root string) Options {
	return Options{Root: root, StateDir: "/var/lib/rulekeeper"}
}

func mustPlan(t testing.TB, d policy.Desired, o Options) *Plan {
	t.Helper()
	p, err := MakePlan(d, o)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func mustApply(t testing.TB, d policy.Desired, o Options) *Plan {
	t.Helper()
	p := mustPlan(t, d, o)
	if _, err := Apply(p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return p
}

// editedAndBack applies d to a node whose file p holds vendor: p must then
// read want, a second pass must plan nothing, and a pass without d must give
// the vendor's bytes back.
func editedAndBack(t *testing.T, root, p string, d policy.Desired, vendor, want string) {
	t.Helper()
	writeNode(t, root, p, []byte(vendor))
	mustApply(t, d, opts(root))
	if got := readNode(t, root, p); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if pl := mustPlan(t, d, opts(root)); !pl.Empty() {
		t.Fatalf("second pass plans %s", pl.Summary())
	}
	undo := d
	undo.Rules, undo.Macros, undo.Lists, undo.Settings = nil, nil, nil, nil
	mustApply(t, undo, opts(root))
	if got := readNode(t, root, p); got != vendor {
		t.Fatalf("not restored:\n%s", got)
	}
}
