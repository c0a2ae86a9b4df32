package reconcile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// yaml-cpp's booleans, as Falco 0.32.1 reads `append:` (tried with the real
// Falco: each true one makes the entry an amendment, quoted or not; the
// others make it a definition).
func TestYamlTrue(t *testing.T) {
	for _, s := range []string{"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"} {
		if !yamlTrue(s) {
			t.Errorf("%q is true to yaml-cpp", s)
		}
	}
	for _, s := range []string{"tRUE", "yEs", "TRue", "1", "false", "no", "off", "n", "N", "x", "", "~", "truee"} {
		if yamlTrue(s) {
			t.Errorf("%q is not true to yaml-cpp", s)
		}
	}
}

// Every hash in vendorCut is a testdata copy of an upstream file whose full
// parse finds exactly the items of the quick cut, and every upstream rules
// file in testdata is listed.
func TestVendorCutProven(t *testing.T) {
	files, _ := filepath.Glob("testdata/falco/falco_rules*.yaml")
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h := sum(data)
		if !vendorCut[h] {
			t.Errorf("%s (%s) is not in vendorCut", f, h)
		}
		seen[h] = true
		pf, err := parseFile(data)
		if err != nil || !pf.simple {
			t.Fatalf("%s: the full parse does not vouch for the cut: %v", f, err)
		}
		cut, _ := cutItems(data)
		for i, it := range pf.items {
			if it.kind == "rule" && defines(it.node) {
				m, err := parseItem(data[cut[i].start:cut[i].end])
				if err != nil || !defines(m) {
					t.Fatalf("%s: %s %q reads differently alone", f, it.kind, it.name)
				}
			}
		}
	}
	for h := range vendorCut {
		if !seen[h] {
			t.Errorf("vendorCut lists %s, which no testdata file proves", h)
		}
	}
}

// Bytes never seen are parsed whole; the state records the bytes a pass
// vouched for, its own writes included, and only those.
func TestParsedRecorded(t *testing.T) {
	root := node032(t)
	writeNode(t, root, rulesPath, []byte("# site copy\n"+readNode(t, root, rulesPath)))
	mustApply(t, exam(policy.InPlace), opts(root))
	st, err := LoadState(opts(root).StatePath())
	if err != nil {
		t.Fatal(err)
	}
	if st.Parsed[rulesPath] != sum([]byte(readNode(t, root, rulesPath))) {
		t.Fatalf("the state does not vouch for the file rulekeeper wrote: %v", st.Parsed)
	}
	// Another policy on the same bytes: the fast path, same result as a full parse.
	d := examWith(policy.InPlace, func(r *policy.Rule) { r.Output.Prefix = "OTHER!!!" })
	p := mustApply(t, d, opts(root))
	if len(p.Files) != 1 || !strings.Contains(string(p.Files[0].New), "    OTHER!!! user_id=%user.uid") {
		t.Fatalf("plan: %s", p.Diff())
	}
	// The recorded hash is what lets a pass cut the file and parse only the
	// rule's item: bytes broken in another item, recorded as vouched for
	// (a state written by hand, as a probe), take the quick cut and plan;
	// without the record they are parsed whole and refused.
	broken := strings.Replace(readNode(t, root, rulesPath), "- macro: open_write\n  condition: ", "- macro: open_write\n  condition: [unclosed ", 1)
	writeNode(t, root, rulesPath, []byte(broken))
	if _, err := MakePlan(exam(policy.InPlace), opts(root)); err == nil || !strings.Contains(err.Error(), "open_write") {
		t.Fatalf("bytes never vouched for were not parsed whole: %v", err)
	}
	st.Parsed[rulesPath] = sum([]byte(broken))
	if err := st.save(opts(root).StatePath()); err != nil {
		t.Fatal(err)
	}
	if _, err := MakePlan(exam(policy.InPlace), opts(root)); err != nil {
		t.Fatalf("bytes the state vouches for were parsed whole: %v", err)
	}
	// A byte changed far from the rule: no longer the recorded bytes, so
	// the file is parsed whole and the break found.
	writeNode(t, root, rulesPath, []byte(broken+"- rule: [unclosed\n"))
	if _, err := MakePlan(exam(policy.InPlace), opts(root)); err == nil || !strings.Contains(err.Error(), rulesPath+":") {
		t.Fatalf("error: %v", err)
	}
}

// Only bytes whose quick cut a full parse proved are recorded: a file of
// several documents is parsed whole on every pass.
func TestParsedNotRecordedForSeveralDocuments(t *testing.T) {
	root := node032(t)
	writeNode(t, root, rulesPath, []byte("- list: x\n  items: []\n---\n"+readNode(t, root, rulesPath)))
	mustApply(t, exam(policy.InPlace), opts(root))
	st, err := LoadState(opts(root).StatePath())
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := st.Parsed[rulesPath]; ok {
		t.Fatalf("the state vouches for the quick cut of a file of two documents: %s", h)
	}
	if !strings.Contains(readNode(t, root, rulesPath), "NEW SHELL!!!") {
		t.Fatal("edit not in the file")
	}
}

// A state that is not rulekeeper's object (null, an empty object, a list)
// is refused as corrupt: taking it for an empty state would forget the
// vendor's originals.
func TestStateNotAnObjectRefused(t *testing.T) {
	for _, bad := range []string{"null", "{}", "[]", `{"inputs": ""}`, `{"inputs": "x", "files": null}`} {
		t.Run(bad, func(t *testing.T) {
			root := node032(t)
			writeNode(t, root, "/var/lib/rulekeeper/state.json", []byte(bad))
			_, err := MakePlan(exam(policy.InPlace), opts(root))
			if err == nil || !strings.Contains(err.Error(), "state.json") || !strings.Contains(err.Error(), "move it away") {
				t.Fatalf("error: %v", err)
			}
		})
	}
	root := node032(t)
	mustApply(t, exam(policy.InPlace), opts(root))
	var st map[string]any
	if err := json.Unmarshal([]byte(readNode(t, root, "/var/lib/rulekeeper/state.json")), &st); err != nil || st["files"] == nil {
		t.Fatalf("rulekeeper's own state: %v %v", st, err)
	}
}

// exclude finds a token where include would: after a bracket too.
func TestExcludeAfterBracket(t *testing.T) {
	root := node032(t)
	d := examWith(policy.InPlace, func(r *policy.Rule) {
		r.Output = &policy.Output{Exclude: []string{"user=%user.name", "image=%container.image.repository"}}
	})
	p := mustApply(t, d, opts(root))
	got := p.Files[0].Changes[0].New
	if strings.Contains(got, "user=%user.name") || strings.Contains(got, "image=%container.image.repository") ||
		!strings.Contains(got, "(user_loginuid=%user.loginuid") || !strings.HasSuffix(got, "container_id=%container.id)") {
		t.Fatalf("output: %q", got)
	}
}

// Excluding every token would leave Falco no output: refused, as replace = "" is.
func TestExcludeEverythingRefused(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: alpha beta\n  priority: NOTICE\n"))
	d := examWith(policy.InPlace, func(r *policy.Rule) { r.Output = &policy.Output{Exclude: []string{"alpha", "beta"}} })
	before := snapshot(t, root)
	_, err := MakePlan(d, opts(root))
	if err == nil || !strings.Contains(err.Error(), localPath+":1: rule \"Terminal shell in container\": exclude removes every token") {
		t.Fatalf("error: %v", err)
	}
	sameTree(t, before, snapshot(t, root))
}

// An entry after the definition that sets a managed value again would make
// the edit useless: refused, naming that entry.
func TestLaterEntryResetsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, local string
		edit        func(r *policy.Rule)
		want        string
	}{
		{"enable-only entry", "# site\n- rule: Terminal shell in container\n  enabled: false\n",
			func(r *policy.Rule) { r.Enabled = ptr(true) }, localPath + ":2 sets its enabled again"},
		{"override entry", "- rule: Terminal shell in container\n  output: mine\n  override:\n    output: replace\n",
			func(r *policy.Rule) {}, localPath + ":1 sets its output again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			writeNode(t, root, localPath, []byte(tc.local))
			_, err := MakePlan(examWith(policy.InPlace, tc.edit), opts(root))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error: %v\nwant: %s", err, tc.want)
			}
		})
	}
	// A full definition after the enable-only entry is the one edited: the
	// entry before it does not count.
	t.Run("enable-only entry before a redefinition", func(t *testing.T) {
		root := node032(t)
		writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  enabled: false\n"))
		writeNode(t, root, "/etc/falco/rules.d/10-site.yaml", []byte(redefined("site")))
		p := mustApply(t, examWith(policy.InPlace, func(r *policy.Rule) { r.Enabled = ptr(true) }), opts(root))
		if len(p.Files) != 1 || p.Files[0].Path != "/etc/falco/rules.d/10-site.yaml" {
			t.Fatalf("plan:\n%s", p.Summary())
		}
	})
	// An enable-only entry does not stop an output edit, nor an override
	// loaded after it.
	root := node032(t)
	writeNode(t, root, localPath, []byte("- rule: Terminal shell in container\n  enabled: false\n"))
	mustApply(t, exam(policy.InPlace), opts(root))
	o := opts(root)
	o.FalcoVersion = "0.32.1"
	mustApply(t, examWith(policy.Override, func(r *policy.Rule) { r.Enabled = ptr(true) }), o)
}

// Problems found inside an item name the file's line, not the item's.
func TestItemErrorsCountFileLines(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("# site\n\n- rule: Terminal shell in container\n  desc: d\n  condition: spawned_process\n  output: first\n  priority: NOTICE\n  output: second\n"))
	_, err := MakePlan(exam(policy.InPlace), opts(root))
	if err == nil || !strings.Contains(err.Error(), localPath+":8: rule \"Terminal shell in container\": the key output appears twice") {
		t.Fatalf("error: %v", err)
	}
}

// The parser counts columns in characters: a flow entry with multi-byte
// characters before the output is edited at the right bytes.
func TestMultiByteBeforeValue(t *testing.T) {
	root := node032(t)
	writeNode(t, root, localPath, []byte("- {rule: Terminal shell in container, desc: Ünïcödé ✓ desc, condition: spawned_process, output: 'ŝhell %user.name', priority: NOTICE}\n"))
	mustApply(t, exam(policy.InPlace), opts(root))
	got := readNode(t, root, localPath)
	if !strings.Contains(got, `desc: Ünïcödé ✓ desc, condition: spawned_process, output: "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository ŝhell %user.name", priority: NOTICE}`) {
		t.Fatal(got)
	}
}
