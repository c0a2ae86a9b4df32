package reconcile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

// fuzzRule is the rule FuzzSplice edits: the shapes and the upstream file
// define it.
const fuzzRule = "Terminal shell in container"

// FuzzSplice runs a whole pass (cut or full parse, find, splice, check,
// write) over a rules file and a prefix. Whatever the bytes: no panic; a
// pass that fails writes nothing; a pass that succeeds leaves a file that
// parses, in which every document reads as before but for the output of the
// rule's definitions, and the definition Falco uses starts with the prefix;
// a second pass has nothing to do. Seeds: the shapes, the upstream 0.32.1
// local file and testdata/fuzz/FuzzSplice.
func FuzzSplice(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/shapes/*.yaml")
	seeds = append(seeds, "testdata/falco/falco_rules.local-0.32.1.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "NEW SHELL!!!")
	}
	f.Fuzz(func(t *testing.T, rules []byte, prefix string) {
		if !policyText(prefix) {
			t.Skip() // validate refuses it before any pass
		}
		root := t.TempDir()
		writeNode(t, root, rulesPath, rules)
		d := policy.Desired{
			Falco: policy.Falco{Strategy: policy.InPlace, RulesFiles: []string{rulesPath}},
			Rules: []policy.Rule{{Name: fuzzRule, Pos: "p.hcl:1,1", Output: &policy.Output{Prefix: prefix, Include: []string{"uid=%user.uid"}}}},
		}
		p, err := MakePlan(d, opts(root))
		if err == nil {
			_, err = Apply(p)
		}
		got := []byte(readNode(t, root, rulesPath))
		if err != nil {
			if !bytes.Equal(got, rules) {
				t.Fatalf("a failed pass changed the file: %v", err)
			}
			return
		}
		before, err := outputsOut(rules)
		if err != nil {
			t.Fatalf("the pass accepted a file yaml refuses: %v", err)
		}
		after, err := outputsOut(got)
		if err != nil {
			t.Fatalf("the new file does not parse: %v\n%s", err, got)
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("the edit changed more than the rule's output:\n%s", got)
		}
		if out := effectiveOutput(t, got); !strings.HasPrefix(out, strings.TrimSpace(prefix)) || !strings.Contains(out, "uid=%user.uid") {
			t.Fatalf("the output Falco uses is %q", out)
		}
		if p2, err := MakePlan(d, opts(root)); err != nil || !p2.Empty() {
			t.Fatalf("second pass: %v", err)
		}
	})
}

// policyText is what the policy language lets through as output text.
func policyText(s string) bool {
	if strings.TrimSpace(s) == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			return false
		}
	}
	return true
}

// outputsOut reads every document as values, with the output of every
// entry of fuzzRule left out. It reads NEL, LS and PS as text, as Falco does
// (TestRealFalcoShapes/text-breaks.yaml).
func outputsOut(data []byte) ([]any, error) {
	readable, swapped, err := asFalcoReads(data)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(readable))
	var docs []any
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if swapped != nil {
			unmask([]*yaml.Node{&n}, swapped)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		if l, ok := v.([]any); ok {
			for _, e := range l {
				if m, ok := e.(map[string]any); ok && m["rule"] == fuzzRule {
					delete(m, "output")
				}
			}
		}
		docs = append(docs, v)
	}
}

// effectiveOutput is the output of the rule's last full definition.
func effectiveOutput(t *testing.T, data []byte) string {
	t.Helper()
	pf, err := parseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, it := range pf.items {
		if it.kind == "rule" && it.name == fuzzRule && defines(it.node) {
			out = strings.TrimSpace(resolve(mapValue(it.node, "output")).Value)
		}
	}
	return out
}

// FuzzRulesList reads arbitrary bytes as falco.yaml: no panic, and either
// an error naming the file or a non-empty list of rules files. Seeds: the
// upstream falco.yaml of 0.32.1 and 0.44.1 and testdata/fuzz/FuzzRulesList.
func FuzzRulesList(f *testing.F) {
	for _, s := range []string{"testdata/falco/falco-0.32.1.yaml", "testdata/falco/falco-0.44.1.yaml"} {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, cfg []byte) {
		root := t.TempDir()
		writeNode(t, root, "/etc/falco/falco.yaml", cfg)
		list, err := rulesList(root, "/etc/falco/falco.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "/etc/falco/falco.yaml") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		if len(list) == 0 {
			t.Fatal("no error and no rules files")
		}
	})
}
