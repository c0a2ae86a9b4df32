package reconcile

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const ownPath = "/etc/falco/rules.d/50-rulekeeper.yaml"

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./reconcile -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (go test ./reconcile -update rewrites it):\n%s", p, udiffText(string(want), got))
	}
}

func udiffText(a, b string) string {
	return (&FileChange{Path: "/golden", Action: Update, Old: []byte(a), New: []byte(b)}).Diff()
}

func at(root string, version string) Options {
	o := opts(root)
	o.FalcoVersion = version
	return o
}

// examAll manages every field the override strategy can carry.
func examAll(s policy.Strategy) policy.Desired {
	return examWith(s, func(r *policy.Rule) { r.Priority = ptr("WARNING"); r.Enabled = ptr(false) })
}

// parseRules reads a rules file as Falco's YAML loader would.
func parseRules(t *testing.T, data string) []map[string]any {
	t.Helper()
	var items []map[string]any
	if err := yaml.Unmarshal([]byte(data), &items); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, data)
	}
	return items
}

// vendorRule is the vendor's definition of the exam rule, parsed.
func vendorRule(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/falco", file))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range parseRules(t, string(b)) {
		if it["rule"] == examRule {
			return it
		}
	}
	t.Fatalf("%s has no rule %q", file, examRule)
	return nil
}

// applyOverride applies the exam with the override strategy for a Falco
// version and checks the plan created only the agent's file, as the golden
// copy of that version has it, leaving the vendor's files untouched.
func applyOverride(t *testing.T, root, version string) (*Plan, string) {
	t.Helper()
	before := snapshot(t, filepath.Join(root, "etc/falco"))
	p := mustApply(t, examAll(policy.Override), at(root, version))
	if p.Strategy != policy.Override || len(p.Files) != 1 || p.Files[0].Path != ownPath || p.Files[0].Action != Create {
		t.Fatalf("plan: %s", p.Summary())
	}
	got := readNode(t, root, ownPath)
	golden(t, "override-"+version+"/50-rulekeeper.yaml", got)
	after := snapshot(t, filepath.Join(root, "etc/falco"))
	delete(after, "rules.d/50-rulekeeper.yaml")
	sameTree(t, before, after)
	return p, got
}

func TestOverrideModern(t *testing.T) {
	root := node044(t)
	_, got := applyOverride(t, root, "0.44.1")

	items := parseRules(t, got)
	if len(items) != 1 {
		t.Fatalf("%d entries", len(items))
	}
	e := items[0]
	over, ok := e["override"].(map[string]any)
	if !ok {
		t.Fatalf("no override mapping: %v", e)
	}
	for k := range e {
		if k != "rule" && k != "override" && over[k] != "replace" {
			t.Errorf("key %s is not listed under override: as replace (Falco: Unexpected key)", k)
		}
	}
	for k := range over {
		if _, ok := e[k]; !ok {
			t.Errorf("override: lists %s, which the entry does not give", k)
		}
	}
	if e["enabled"] != false {
		t.Errorf("enabled reads %#v, not the bool false", e["enabled"])
	}
	if e["priority"] != "WARNING" {
		t.Errorf("priority %v", e["priority"])
	}
	want := "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository " + vendorRule(t, "falco_rules-5.1.0.yaml")["output"].(string)
	if e["output"] != want {
		t.Errorf("output %q\nwant   %q", e["output"], want)
	}
	if !mustPlan(t, examAll(policy.Override), at(root, "0.44.1")).Empty() {
		t.Fatal("second plan not empty")
	}
}

// Before 0.37 the file holds a full redefinition, copied from the vendor's.
func TestOverrideRedefinition(t *testing.T) {
	root := node032(t)
	p, got := applyOverride(t, root, "0.32.1")

	items := parseRules(t, got)
	if len(items) != 1 {
		t.Fatalf("%d entries", len(items))
	}
	e, v := items[0], vendorRule(t, "falco_rules-0.32.1.yaml")
	for _, k := range []string{"condition", "output", "desc", "priority"} {
		if e[k] == nil {
			t.Errorf("the redefinition lacks %s (Falco 0.32.1 requires it)", k)
		}
	}
	for k, vv := range v {
		switch k {
		case "output", "priority":
			continue
		}
		if !reflectEqual(e[k], vv) {
			t.Errorf("%s: %v, vendor's %v", k, e[k], vv)
		}
	}
	if e["priority"] != "WARNING" || e["enabled"] != false || !strings.HasPrefix(e["output"].(string), "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository A shell") {
		t.Errorf("desired values: %v", e)
	}
	// Falco loads it after the vendor file.
	order := p.order
	if slices.Index(order, ownPath) <= slices.Index(order, rulesPath) {
		t.Fatalf("load order %v", order)
	}
}

func reflectEqual(a, b any) bool {
	x, _ := yaml.Marshal(a)
	y, _ := yaml.Marshal(b)
	return string(x) == string(y)
}

func TestAutoStrategy(t *testing.T) {
	for _, tc := range []struct {
		version string
		setting string // falco_version in the policy
		want    policy.Strategy
	}{
		{"0.44.1", "", policy.Override},
		{"0.37.0", "", policy.Override},
		{"0.36.2", "", policy.InPlace},
		{"0.32.1", "", policy.InPlace},
		{"", "0.44.1", policy.Override},
		{"0.32.1", "0.44.1", policy.InPlace}, // the binary's answer wins over the setting
		{"", "", policy.InPlace},
	} {
		t.Run(tc.version+"/"+tc.setting, func(t *testing.T) {
			root := node044(t)
			d := exam(policy.Auto)
			d.Falco.Version = tc.setting
			p := mustApply(t, d, at(root, tc.version))
			if p.Strategy != tc.want {
				t.Fatalf("strategy %s, want %s", p.Strategy, tc.want)
			}
			wantFile := rulesPath
			if tc.want == policy.Override {
				wantFile = ownPath
			}
			if len(p.Files) != 1 || p.Files[0].Path != wantFile {
				t.Fatalf("plan: %s", p.Summary())
			}
		})
	}
}

// Changing the strategy moves the change in one plan: the vendor file
// gets its bytes back and the override file appears, or the reverse.
func TestSwitchStrategy(t *testing.T) {
	for _, tc := range []struct {
		version, vendor string
		root            func(testing.TB) string
	}{
		{"0.32.1", "falco_rules-0.32.1.yaml", node032},
		{"0.44.1", "falco_rules-5.1.0.yaml", node044},
	} {
		t.Run(tc.version, func(t *testing.T) {
			root := tc.root(t)
			o := at(root, tc.version)
			vendor, _ := os.ReadFile(filepath.Join("testdata/falco", tc.vendor))
			mustApply(t, examAll(policy.InPlace), o)
			inPlace := readNode(t, root, rulesPath)

			p := mustApply(t, examAll(policy.Override), o)
			acts := map[string]Action{}
			for _, fc := range p.Files {
				acts[fc.Path] = fc.Action
			}
			if len(acts) != 2 || acts[rulesPath] != Update || acts[ownPath] != Create {
				t.Fatalf("in_place -> override plan:\n%s", p.Summary())
			}
			for _, c := range p.Files[slices.IndexFunc(p.Files, func(fc *FileChange) bool { return fc.Path == rulesPath })].Changes {
				if c.Reason != ReasonRestore {
					t.Errorf("vendor file change %+v: want reason %s", c, ReasonRestore)
				}
			}
			if readNode(t, root, rulesPath) != string(vendor) {
				t.Fatal("the vendor file is not the vendor's again")
			}
			if tc.version == "0.32.1" && strings.Contains(readNode(t, root, ownPath), "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository\n    NEW SHELL") {
				t.Fatal("the redefinition stacks the in_place edit")
			}
			own := readNode(t, root, ownPath)
			if !mustPlan(t, examAll(policy.Override), o).Empty() {
				t.Fatal("plan after the switch is not empty")
			}

			p = mustApply(t, examAll(policy.InPlace), o)
			acts = map[string]Action{}
			for _, fc := range p.Files {
				acts[fc.Path] = fc.Action
			}
			if len(acts) != 2 || acts[rulesPath] != Update || acts[ownPath] != Delete {
				t.Fatalf("override -> in_place plan:\n%s", p.Summary())
			}
			if _, err := os.Stat(filepath.Join(root, ownPath)); !os.IsNotExist(err) {
				t.Fatalf("override file still there: %v", err)
			}
			if readNode(t, root, rulesPath) != inPlace {
				t.Fatal("in_place after override differs from in_place alone")
			}
			_ = own
		})
	}
}

// Dropping rules from an override policy rewrites, then removes, the file.
func TestOverrideRuleDropped(t *testing.T) {
	root := node044(t)
	o := at(root, "0.44.1")
	d := exam(policy.Override)
	d.Rules = append(d.Rules, policy.Rule{Name: "Run shell untrusted", Priority: ptr("ERROR")})
	mustApply(t, d, o)
	if items := parseRules(t, readNode(t, root, ownPath)); len(items) != 2 {
		t.Fatalf("%d entries", len(items))
	}
	d.Rules = d.Rules[:1]
	mustApply(t, d, o)
	if items := parseRules(t, readNode(t, root, ownPath)); len(items) != 1 || items[0]["rule"] != examRule {
		t.Fatalf("entries: %v", items)
	}
	d.Rules = nil
	p := mustApply(t, d, o)
	if len(p.Files) != 1 || p.Files[0].Action != Delete {
		t.Fatalf("plan: %s", p.Summary())
	}
	if _, err := os.Stat(filepath.Join(root, ownPath)); !os.IsNotExist(err) {
		t.Fatalf("override file still there: %v", err)
	}
}

// An edit of the agent-owned file is undone.
func TestOverrideFileDrift(t *testing.T) {
	root := node044(t)
	o := at(root, "0.44.1")
	mustApply(t, exam(policy.Override), o)
	want := readNode(t, root, ownPath)
	writeNode(t, root, ownPath, []byte(strings.Replace(want, "NEW SHELL!!!", "HELLO", 1)))
	p := mustApply(t, exam(policy.Override), o)
	if len(p.Files) != 1 || p.Files[0].Action != Update {
		t.Fatalf("plan: %s", p.Summary())
	}
	if readNode(t, root, ownPath) != want {
		t.Fatal("not restored")
	}
}

func TestOverrideRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, root string, d *policy.Desired)
		wantErr []string
	}{
		{
			name: "override file not rulekeeper's",
			setup: func(t *testing.T, root string, d *policy.Desired) {
				writeNode(t, root, ownPath, []byte("- rule: Mine\n  desc: x\n  condition: evt.type=open\n  output: x\n  priority: INFO\n"))
			},
			wantErr: []string{ownPath, "not written by rulekeeper", "override_file"},
		},
		{
			name: "override file Falco does not load",
			setup: func(t *testing.T, root string, d *policy.Desired) {
				d.Falco.OverrideFile = "/etc/falco/extra/50-rulekeeper.yaml"
			},
			wantErr: []string{"override_file /etc/falco/extra/50-rulekeeper.yaml is not among the files Falco loads", "/etc/falco/rules.d", "rules_files"},
		},
		{
			name: "override file loaded before the vendor file",
			setup: func(t *testing.T, root string, d *policy.Desired) {
				d.Falco.RulesFiles = []string{"/etc/falco/rules.d", "/etc/falco/falco_rules.yaml"}
			},
			wantErr: []string{"Falco loads " + ownPath + " before " + rulesPath, examRule},
		},
	} {
		for _, v := range []struct {
			version string
			root    func(testing.TB) string
		}{{"0.32.1", node032}, {"0.44.1", node044}} {
			t.Run(tc.name+"/"+v.version, func(t *testing.T) {
				root := v.root(t)
				d := exam(policy.Override)
				tc.setup(t, root, &d)
				before := snapshot(t, root)
				_, err := MakePlan(d, at(root, v.version))
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				sameTree(t, before, snapshot(t, root))
			})
		}
	}
}

var (
	standinOnce sync.Once
	standinBin  string
	standinErr  error
)

// standin builds the stand-in falco once per test run.
func standin(t *testing.T) string {
	t.Helper()
	standinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rulekeeper-falco-")
		if err != nil {
			standinErr = err
			return
		}
		standinBin = filepath.Join(dir, "falco")
		out, err := exec.Command("go", "build", "-o", standinBin, "../internal/testkit/falcostandin").CombinedOutput()
		if err != nil {
			standinErr = err
			standinBin = string(out)
		}
	})
	if standinErr != nil {
		t.Fatalf("building the stand-in falco: %v\n%s", standinErr, standinBin)
	}
	return standinBin
}

// The candidate files go through `falco -V` before they are written.
func TestFalcoValidates(t *testing.T) {
	bin := standin(t)
	for _, tc := range []struct {
		version  string
		root     func(testing.TB) string
		strategy policy.Strategy
	}{
		{"0.32.1", node032, policy.Override},
		{"0.32.1", node032, policy.InPlace},
		{"0.44.1", node044, policy.Override},
		{"0.44.1", node044, policy.InPlace},
	} {
		t.Run(tc.version+"/"+string(tc.strategy), func(t *testing.T) {
			t.Setenv("FALCO_STANDIN_VERSION", tc.version)
			root := tc.root(t)
			o := at(root, tc.version)
			o.FalcoBinary = bin
			p := mustPlan(t, examAll(tc.strategy), o)
			res, err := Apply(p)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Checked {
				t.Fatal("not checked with falco -V")
			}
		})
	}
	// Falco checks the planned content, not the files on disk: an output the
	// policy lets through but Falco cannot load ("100%" then a space) is
	// refused, over both strategies, and nothing is written.
	for _, strategy := range []policy.Strategy{policy.InPlace, policy.Override} {
		t.Run("planned content rejected/"+string(strategy), func(t *testing.T) {
			t.Setenv("FALCO_STANDIN_VERSION", "0.32.1")
			root := node032(t)
			o := at(root, "0.32.1")
			o.FalcoBinary = bin
			d := exam(strategy)
			d.Rules[0].Output.Prefix = "NEW SHELL!!! 100% sure"
			before := snapshot(t, root)
			_, err := Apply(mustPlan(t, d, o))
			if err == nil {
				t.Fatal("falco -V let through a planned output it cannot load")
			}
			want := "/etc/falco/falco_rules.yaml"
			if strategy == policy.Override {
				want = policy.DefaultOverrideFile
			}
			for _, w := range []string{"falco -V rejects", "nothing was written", want, "100% sure"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			sameTree(t, before, snapshot(t, root))
		})
	}
	// What Falco rejects is not written, in a file the plan does not touch too.
	t.Run("rejected", func(t *testing.T) {
		t.Setenv("FALCO_STANDIN_VERSION", "0.32.1")
		root := node032(t)
		writeNode(t, root, "/etc/falco/rules.d/10-site.yaml", []byte("- rule: Site rule\n  desc: x\n  condition: evt.type=open\n  output: x\n  priority: LOUD\n"))
		o := at(root, "0.32.1")
		o.FalcoBinary = bin
		before := snapshot(t, root)
		p := mustPlan(t, exam(policy.InPlace), o)
		_, err := Apply(p)
		if err == nil {
			t.Fatal("falco -V accepted an invalid priority")
		}
		for _, w := range []string{"falco -V rejects", "nothing was written", "/etc/falco/rules.d/10-site.yaml"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		sameTree(t, before, snapshot(t, root))
	})
}

// A rule or macro block that manages nothing (the policy warns of it)
// leaves the vendor's definition alone in every strategy and version: no
// file for it alone, no entry beside another block's. Falco 0.37+ refuses
// the `override:` entry with no keys it would make ("Item has no mapping
// for key 'enabled'", 0.40.0 and 0.44.1). Its name is still looked up.
func TestBlocksManagingNothingWriteNothing(t *testing.T) {
	empty := policy.Desired{Rules: []policy.Rule{{Name: "Team rule", Pos: "tuning.hcl:1,1"}},
		Macros: []policy.Macro{{Name: "spawned_process", Pos: "tuning.hcl:3,1"}}}
	for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
		for _, v := range []string{"0.32.1", "0.40.0"} {
			t.Run(string(s)+"/"+v, func(t *testing.T) {
				root := node032(t)
				writeNode(t, root, localPath, []byte(teamRule))
				o := versioned(root, v)
				d := empty
				d.Falco.Strategy = s
				if p := mustPlan(t, d, o); !p.Empty() {
					t.Fatalf("blocks managing nothing planned: %s", p.Summary())
				}
				d.Rules = append(slices.Clone(d.Rules), policy.Rule{Name: shellRule, Pos: "tuning.hcl:5,1", Priority: ptr("ERROR")})
				p := mustApply(t, d, o)
				if len(p.Files) != 1 || len(p.Files[0].Changes) != 1 || p.Files[0].Changes[0].Rule != shellRule {
					t.Fatalf("want the one rule changed alone: %s", p.Summary())
				}
				if own := string(p.Files[0].New); s == policy.Override && (strings.Contains(own, "Team rule") || strings.Contains(own, "- macro:")) {
					t.Fatalf("entries for blocks managing nothing:\n%s", own)
				}
				if got := readNode(t, root, localPath); got != teamRule {
					t.Fatal("the team's file changed")
				}
				d.Rules[0].Name = "Team rul"
				if _, err := MakePlan(d, o); err == nil || !strings.Contains(err.Error(), `"Team rule"`) {
					t.Fatalf("a misspelt name in a block managing nothing: %v", err)
				}
			})
		}
	}
}
