package reconcile

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

const (
	falcoYAML = "/etc/falco/falco.yaml"
	dropIn    = "/etc/falco/config.d/" + dropInName
)

func settingsPolicy(s policy.Settings) policy.Desired {
	s.Pos = "settings.hcl:1,1"
	return policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}, Settings: &s}
}

// node040 is a Falco 0.40.0 node: its package ships falco-rules-3.2.0.
func node040(t testing.TB) string {
	root := node(t, map[string]string{
		falcoYAML:                     "falco-0.40.0.yaml",
		"/etc/falco/falco_rules.yaml": "falco_rules-3.2.0.yaml",
	})
	writeNode(t, root, "/etc/falco/falco_rules.local.yaml", []byte("# Your custom rules!\n"))
	os.MkdirAll(filepath.Join(root, "etc/falco/rules.d"), 0o755)
	return root
}

func versioned(root, v string) Options {
	o := opts(root)
	o.FalcoVersion = v
	return o
}

// On Falco 0.32.1 (no config_files) the settings are falco.yaml's own
// values, edited where they stand: the two lines change and no other byte;
// a second pass writes nothing; the block's removal gives the vendor's
// bytes back.
func TestSettingsInPlace(t *testing.T) {
	root := node032(t)
	vendor := readNode(t, root, falcoYAML)
	s := settingsPolicy(policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning")})
	p := mustApply(t, s, versioned(root, "0.32.1"))
	if len(p.Files) != 1 || p.Files[0].Path != falcoYAML {
		t.Fatalf("want falco.yaml alone changed: %s", p.Summary())
	}
	want := strings.Replace(strings.Replace(vendor, "\njson_output: false\n", "\njson_output: true\n", 1), "\npriority: debug\n", "\npriority: warning\n", 1)
	if got := readNode(t, root, falcoYAML); got != want {
		t.Fatalf("falco.yaml:\n%s", (&FileChange{Path: falcoYAML, Old: []byte(want), New: []byte(got)}).Diff())
	}
	for _, c := range p.Files[0].Changes {
		if c.Kind != settingsKind || c.Reason != ReasonPolicy {
			t.Errorf("change %+v", c)
		}
	}
	if len(p.Files[0].Changes) != 2 {
		t.Errorf("changes %+v", p.Files[0].Changes)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/falco/config.d")); err == nil {
		t.Error("a config.d was made on 0.32.1, which merges none")
	}
	if p := mustPlan(t, s, versioned(root, "0.32.1")); !p.Empty() {
		t.Fatalf("converged, yet: %s", p.Summary())
	}
	// A priority the vendor already has, in another case, keeps its bytes.
	p = mustApply(t, settingsPolicy(policy.Settings{Priority: ptr("DEBUG")}), versioned(root, "0.32.1"))
	if got := readNode(t, root, falcoYAML); got != vendor {
		t.Fatalf("priority DEBUG over the vendor's debug:\n%s", p.Diff())
	}
	p = mustApply(t, policy.Desired{}, versioned(root, "0.32.1"))
	if got := readNode(t, root, falcoYAML); got != vendor {
		t.Fatalf("not restored byte for byte:\n%s", p.Diff())
	}
	st, _ := LoadState(opts(root).StatePath())
	if st.Files[falcoYAML] != nil {
		t.Errorf("falco.yaml still managed: %+v", st.Files[falcoYAML])
	}
}

// The value keeps its layout: a quoted priority stays quoted, a comment
// after a value stays, a key the file lacks is added after the last setting
// and taken out again.
func TestSettingsLayoutKept(t *testing.T) {
	root := t.TempDir()
	vendor := "# my falco\njson_output: false   # text for now\npriority: 'notice'\nrules_file:\n  - /etc/falco/falco_rules.yaml\n\n# the end\n"
	writeNode(t, root, falcoYAML, []byte(vendor))
	writeNode(t, root, "/etc/falco/falco_rules.yaml", []byte("- list: x\n  items: [a]\n"))
	p := mustApply(t, settingsPolicy(policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning")}), versioned(root, "0.32.1"))
	want := "# my falco\njson_output: true   # text for now\npriority: 'warning'\nrules_file:\n  - /etc/falco/falco_rules.yaml\n\n# the end\n"
	if got := readNode(t, root, falcoYAML); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s\n%s", got, want, p.Diff())
	}
	mustApply(t, policy.Desired{}, versioned(root, "0.32.1"))
	writeNode(t, root, falcoYAML, []byte("rules_file:\n  - /etc/falco/falco_rules.yaml\n"))
	mustApply(t, settingsPolicy(policy.Settings{JSONOutput: ptr(true)}), versioned(root, "0.32.1"))
	if got := readNode(t, root, falcoYAML); got != "rules_file:\n  - /etc/falco/falco_rules.yaml\njson_output: true\n" {
		t.Fatalf("added key:\n%s", got)
	}
	mustApply(t, policy.Desired{}, versioned(root, "0.32.1"))
	if got := readNode(t, root, falcoYAML); got != "rules_file:\n  - /etc/falco/falco_rules.yaml\n" {
		t.Fatalf("added key not taken out:\n%q", got)
	}
}

// A managed value edited on the node is put back from the vendor's
// original; a new vendor falco.yaml (an upgrade) gets the settings on top.
func TestSettingsDriftAndUpgrade(t *testing.T) {
	root := node032(t)
	vendor := readNode(t, root, falcoYAML)
	s := settingsPolicy(policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning")})
	mustApply(t, s, versioned(root, "0.32.1"))
	applied := readNode(t, root, falcoYAML)
	writeNode(t, root, falcoYAML, []byte(strings.Replace(applied, "\npriority: warning\n", "\npriority: debug\n", 1)))
	p := mustApply(t, s, versioned(root, "0.32.1"))
	if got := readNode(t, root, falcoYAML); got != applied || len(p.Files) != 1 || len(p.Files[0].Changes) != 1 || p.Files[0].Changes[0].Reason != ReasonDrift {
		t.Fatalf("drift not put back: %s\n%s", p.Summary(), p.Diff())
	}
	upgraded := strings.Replace(vendor, "\nbuffered_outputs: false\n", "\nbuffered_outputs: true\n", 1)
	writeNode(t, root, falcoYAML, []byte(upgraded))
	p = mustApply(t, s, versioned(root, "0.32.1"))
	want := strings.Replace(strings.Replace(upgraded, "\njson_output: false\n", "\njson_output: true\n", 1), "\npriority: debug\n", "\npriority: warning\n", 1)
	if got := readNode(t, root, falcoYAML); got != want || p.Files[0].Changes[0].Reason != ReasonUpgrade {
		t.Fatalf("upgrade: %s\n%s", p.Summary(), p.Diff())
	}
	mustApply(t, policy.Desired{}, versioned(root, "0.32.1"))
	if got := readNode(t, root, falcoYAML); got != upgraded {
		t.Fatal("the upgraded vendor file is not back")
	}
}

// Where Falco merges config.d (0.38+), the settings go into a drop-in
// rulekeeper owns: falco.yaml keeps every byte, the drop-in carries the
// header, drift in it is put back, and it goes with the block.
func TestSettingsDropIn(t *testing.T) {
	root := node044(t)
	vendor := readNode(t, root, falcoYAML)
	s := settingsPolicy(policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning"), AppendOutput: []string{"user_id=%user.uid"}})
	p := mustApply(t, s, versioned(root, "0.44.1"))
	if len(p.Files) != 1 || p.Files[0].Path != dropIn || p.Files[0].Action != Create {
		t.Fatalf("want the drop-in created alone: %s", p.Summary())
	}
	want := ownHeader + "# Falco's settings from the policy's falco_settings block; Falco merges this file into falco.yaml.\n" +
		"json_output: true\npriority: \"warning\"\nappend_output:\n  - extra_output: \"user_id=%user.uid\"\n"
	if got := readNode(t, root, dropIn); got != want {
		t.Fatalf("drop-in:\n%s\nwant:\n%s", got, want)
	}
	if readNode(t, root, falcoYAML) != vendor {
		t.Fatal("falco.yaml changed")
	}
	if p := mustPlan(t, s, versioned(root, "0.44.1")); !p.Empty() {
		t.Fatalf("converged, yet: %s", p.Summary())
	}
	// Falco (0.38 through 0.44.1) merges every regular file of a config folder, a
	// half-written one too: the temporary file goes in /etc/falco.
	writeNode(t, root, dropIn, []byte(strings.Replace(want, "json_output: true", "json_output: false", 1)))
	p = mustPlan(t, s, versioned(root, "0.44.1"))
	if _, err := Apply(p); err != nil {
		t.Fatal(err)
	}
	if got := p.stages[hostPath(root, dropIn)]; got != hostPath(root, "/etc/falco") {
		t.Fatalf("the drop-in was staged in %s", got)
	}
	if readNode(t, root, dropIn) != want || len(p.Files) != 1 || p.Files[0].Changes[0].Reason != ReasonDrift {
		t.Fatalf("drift not put back: %s", p.Summary())
	}
	p = mustApply(t, policy.Desired{}, versioned(root, "0.44.1"))
	if _, err := os.Stat(filepath.Join(root, dropIn)); !os.IsNotExist(err) || len(p.Files) != 1 || p.Files[0].Action != Delete {
		t.Fatalf("drop-in not removed: %v %s", err, p.Summary())
	}
	if readNode(t, root, falcoYAML) != vendor {
		t.Fatal("falco.yaml changed")
	}
}

// Falco 0.40.0 replaces a list that a config.d file sets: the drop-in
// carries falco.yaml's append_output entries before the policy's, so that
// the node's own (suggested_output) stay.
func TestSettingsDropInReplacingFalco(t *testing.T) {
	root := node040(t)
	s := settingsPolicy(policy.Settings{AppendOutput: []string{"user_id=%user.uid"}})
	mustApply(t, s, versioned(root, "0.40.0"))
	got := readNode(t, root, dropIn)
	if !strings.HasSuffix(got, "append_output:\n  # falco.yaml's own entries first: this Falco replaces the list with this file's.\n  - {\"suggested_output\":true}\n  - extra_output: \"user_id=%user.uid\"\n") {
		t.Fatalf("drop-in:\n%s", got)
	}
	// On 0.44.1 the lists append: the policy's entries alone.
	root = node044(t)
	mustApply(t, s, versioned(root, "0.44.1"))
	if got := readNode(t, root, dropIn); strings.Contains(got, "suggested_output") {
		t.Fatalf("0.44.1 drop-in copies falco.yaml's entries:\n%s", got)
	}
}

// What rulekeeper refuses, writing nothing: a drop-in it did not write, a
// config file Falco merges later that sets a managed key, a folder merged
// add-only, append_output where Falco has none or its version is unknown.
func TestSettingsRefusals(t *testing.T) {
	s := settingsPolicy(policy.Settings{JSONOutput: ptr(true), AppendOutput: []string{"user_id=%user.uid"}})
	for _, tc := range []struct {
		name, version string
		setup         func(t *testing.T, root string)
		d             policy.Desired
		want          string
	}{
		{"foreign drop-in", "0.44.1", func(t *testing.T, root string) {
			writeNode(t, root, dropIn, []byte("json_output: false\n"))
		}, s, dropIn + " exists and was not written by rulekeeper"},
		{"later config file", "0.44.1", func(t *testing.T, root string) {
			writeNode(t, root, "/etc/falco/config.d/90-team.yaml", []byte("json_output: false\n"))
		}, s, "/etc/falco/config.d/90-team.yaml, which Falco merges after " + dropIn + ", sets json_output"},
		{"add-only", "0.44.1", func(t *testing.T, root string) {
			cfg := readNode(t, root, falcoYAML)
			writeNode(t, root, falcoYAML, []byte(strings.Replace(cfg, "config_files:\n  - /etc/falco/config.d\n", "config_files:\n  - path: /etc/falco/config.d\n    strategy: add-only\n", 1)))
		}, s, "strategy add-only"},
		{"config file merged after falco.yaml", "0.44.1", func(t *testing.T, root string) {
			cfg := readNode(t, root, falcoYAML)
			writeNode(t, root, falcoYAML, []byte(strings.Replace(cfg, "config_files:\n  - /etc/falco/config.d\n", "config_files:\n  - /etc/falco/extra.yaml\n", 1)))
			writeNode(t, root, "/etc/falco/extra.yaml", []byte("priority: debug\n"))
		}, settingsPolicy(policy.Settings{Priority: ptr("warning")}), "/etc/falco/extra.yaml, which Falco merges after " + falcoYAML + ", sets priority"},
		{"append_output on 0.32.1", "0.32.1", nil, s, "settings.hcl:1,1: falco_settings block: this node's Falco 0.32.1 has no append_output"},
		{"append_output, version unknown", "", nil, s, "this node's Falco version is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node044(t)
			if tc.version == "0.32.1" {
				root = node032(t)
			}
			if tc.setup != nil {
				tc.setup(t, root)
			}
			before := snapshot(t, root)
			_, err := MakePlan(tc.d, versioned(root, tc.version))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if after := snapshot(t, root); !maps.Equal(after, before) {
				t.Fatal("files changed")
			}
		})
	}
}

// A falco.yaml that does not parse is refused with its name and line, and
// nothing is written.
func TestSettingsBrokenConfig(t *testing.T) {
	root := node032(t)
	cfg := readNode(t, root, falcoYAML)
	writeNode(t, root, falcoYAML, []byte(strings.Replace(cfg, "\npriority: debug\n", "\npriority: [debug\n", 1)))
	before := snapshot(t, root)
	_, err := MakePlan(settingsPolicy(policy.Settings{JSONOutput: ptr(true)}), versioned(root, "0.32.1"))
	if err == nil || !strings.Contains(err.Error(), falcoYAML+": line ") {
		t.Fatalf("got %v", err)
	}
	if !maps.Equal(before, snapshot(t, root)) {
		t.Fatal("files changed")
	}
}

// Falco upgraded from 0.32.1 to 0.44.1 under the policy: the new vendor
// falco.yaml is taken as it comes (rulekeeper's values there are
// forgotten, not put back into the new file) and the settings move into
// the drop-in.
func TestSettingsFalcoUpgraded(t *testing.T) {
	root := node032(t)
	s := settingsPolicy(policy.Settings{JSONOutput: ptr(true)})
	mustApply(t, s, versioned(root, "0.32.1"))
	fresh, err := os.ReadFile("testdata/falco/falco-0.44.1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeNode(t, root, falcoYAML, fresh)
	p := mustApply(t, s, versioned(root, "0.44.1"))
	if got := readNode(t, root, falcoYAML); got != string(fresh) {
		t.Fatalf("the new falco.yaml was edited:\n%s", p.Diff())
	}
	if got := readNode(t, root, dropIn); !strings.Contains(got, "\njson_output: true\n") {
		t.Fatalf("drop-in:\n%s", got)
	}
	st, _ := LoadState(opts(root).StatePath())
	if st.Files[falcoYAML] != nil || st.Files[dropIn] == nil || !st.Files[dropIn].Settings {
		t.Fatalf("state: %+v", st.Files)
	}
}

// A pass killed after it saved the state and before it wrote falco.yaml
// (here: the block's removal) is settled by the next pass as for a rules
// file: rulekeeper's values still in the file are not taken for the
// vendor's.
func TestSettingsKilledBeforeWritten(t *testing.T) {
	root := node032(t)
	vendor := readNode(t, root, falcoYAML)
	mustApply(t, settingsPolicy(policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning")}), versioned(root, "0.32.1"))
	p := mustPlan(t, policy.Desired{}, versioned(root, "0.32.1"))
	if len(p.Files) != 1 {
		t.Fatalf("plan:\n%s", p.Summary())
	}
	p.record(p.next) // what Apply does before it writes a file, and no more
	if err := p.next.save(p.opts.StatePath()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, settingsPolicy(policy.Settings{Priority: ptr("error")}), versioned(root, "0.32.1"))
	if got, want := readNode(t, root, falcoYAML), strings.Replace(vendor, "\npriority: debug\n", "\npriority: error\n", 1); got != want {
		t.Fatalf("falco.yaml:\n%s", (&FileChange{Path: falcoYAML, Old: []byte(want), New: []byte(got)}).Diff())
	}
	mustApply(t, policy.Desired{}, versioned(root, "0.32.1"))
	if readNode(t, root, falcoYAML) != vendor {
		t.Fatal("the vendor's falco.yaml is not back")
	}
}

// Another config file that Falco merges after the drop-in is refused only
// for the keys the drop-in sets. append_output is such a key only where
// Falco replaces lists on merge (0.40.0): from 0.41 the lists append, and
// both files' entries stay.
func TestSettingsDropInBesideLaterConfigFiles(t *testing.T) {
	withAppend := settingsPolicy(policy.Settings{JSONOutput: ptr(true), AppendOutput: []string{"user_id=%user.uid"}})
	jsonOnly := settingsPolicy(policy.Settings{JSONOutput: ptr(true)})
	for _, tc := range []struct {
		name, version, team string
		d                   policy.Desired
		refused             string
	}{
		{"other keys", "0.44.1", "buffered_outputs: true\n", withAppend, ""},
		{"append_output, lists append", "0.44.1", "append_output:\n  - extra_output: team\n", withAppend, ""},
		{"append_output, lists replaced", "0.40.0", "append_output:\n  - extra_output: team\n", withAppend, "sets append_output"},
		{"append_output, policy without it", "0.40.0", "append_output:\n  - extra_output: team\n", jsonOnly, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node044(t)
			if tc.version == "0.40.0" {
				root = node040(t)
			}
			team := "/etc/falco/config.d/90-team.yaml"
			writeNode(t, root, team, []byte(tc.team))
			before := snapshot(t, root)
			p, err := MakePlan(tc.d, versioned(root, tc.version))
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), team+", which Falco merges after "+dropIn+", "+tc.refused) {
					t.Fatalf("got %v, want the later file refused: %s", err, tc.refused)
				}
				if after := snapshot(t, root); !maps.Equal(after, before) {
					t.Fatal("files changed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Apply(p); err != nil {
				t.Fatal(err)
			}
			got := readNode(t, root, dropIn)
			if !strings.Contains(got, "json_output: true\n") || strings.Contains(got, "append_output") != (len(tc.d.Settings.AppendOutput) > 0) {
				t.Fatalf("drop-in:\n%s", got)
			}
			if readNode(t, root, team) != tc.team {
				t.Fatal("the team's file changed")
			}
		})
	}
}

// A node whose Falco version is unknown, with a config folder in
// falco.yaml, gets the drop-in: config_files means 0.38 or later.
func TestSettingsVersionUnknownDropIn(t *testing.T) {
	root := node044(t)
	vendor := readNode(t, root, falcoYAML)
	p := mustApply(t, settingsPolicy(policy.Settings{JSONOutput: ptr(true)}), versioned(root, ""))
	if len(p.Files) != 1 || p.Files[0].Path != dropIn || readNode(t, root, falcoYAML) != vendor {
		t.Fatalf("want the drop-in alone: %s", p.Summary())
	}
}

// A drop-in to take back that cannot be read (here a folder stands in its
// place) stops the plan, naming it.
func TestSettingsDropInToRemoveUnreadable(t *testing.T) {
	root := node044(t)
	mustApply(t, settingsPolicy(policy.Settings{JSONOutput: ptr(true)}), versioned(root, "0.44.1"))
	h := filepath.Join(root, dropIn)
	if err := os.Remove(h); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := MakePlan(policy.Desired{}, versioned(root, "0.44.1")); err == nil || !strings.Contains(err.Error(), dropIn+": ") {
		t.Fatalf("want an error naming the drop-in, got %v", err)
	}
}

// A setting the policy asks at the vendor's own value tells nothing of
// whether the file is the one rulekeeper wrote: a package upgrade of
// falco.yaml is still told from drift by the other values.
func TestSettingsUpgradeBesideAVendorValue(t *testing.T) {
	root := node032(t)
	vendor := readNode(t, root, falcoYAML)
	s := settingsPolicy(policy.Settings{JSONOutput: ptr(false), Priority: ptr("warning")})
	mustApply(t, s, versioned(root, "0.32.1"))
	upgraded := strings.Replace(vendor, "\nbuffered_outputs: false\n", "\nbuffered_outputs: true\n", 1)
	writeNode(t, root, falcoYAML, []byte(upgraded))
	p := mustApply(t, s, versioned(root, "0.32.1"))
	want := strings.Replace(upgraded, "\npriority: debug\n", "\npriority: warning\n", 1)
	if got := readNode(t, root, falcoYAML); got != want || len(p.Files) != 1 || len(p.Files[0].Changes) != 1 || p.Files[0].Changes[0].Reason != ReasonUpgrade {
		t.Fatalf("upgrade: %s\n%s", p.Summary(), p.Diff())
	}
}

// A config file Falco merges after falco.yaml that sets other keys is no
// obstacle to editing falco.yaml.
func TestSettingsBesideALaterConfigFile(t *testing.T) {
	root := node044(t)
	cfg := readNode(t, root, falcoYAML)
	writeNode(t, root, falcoYAML, []byte(strings.Replace(cfg, "config_files:\n  - /etc/falco/config.d\n", "config_files:\n  - /etc/falco/extra.yaml\n", 1)))
	writeNode(t, root, "/etc/falco/extra.yaml", []byte("buffered_outputs: true\n"))
	p := mustApply(t, settingsPolicy(policy.Settings{Priority: ptr("warning")}), versioned(root, "0.44.1"))
	if len(p.Files) != 1 || p.Files[0].Path != falcoYAML || !strings.Contains(readNode(t, root, falcoYAML), "\npriority: warning\n") {
		t.Fatalf("want falco.yaml edited: %s", p.Summary())
	}
}

// Settings whose keys stand in falco.yaml in another order than the
// policy's are told apart the same: drift is put back as drift.
func TestSettingsKeysInAnyOrder(t *testing.T) {
	root := node032(t)
	cfg := readNode(t, root, falcoYAML)
	writeNode(t, root, falcoYAML, []byte("priority: debug\n"+strings.Replace(cfg, "\npriority: debug\n", "\n", 1)))
	s := settingsPolicy(policy.Settings{JSONOutput: ptr(true), Priority: ptr("warning")})
	mustApply(t, s, versioned(root, "0.32.1"))
	applied := readNode(t, root, falcoYAML)
	if !strings.HasPrefix(applied, "priority: warning\n") || !strings.Contains(applied, "\njson_output: true\n") {
		t.Fatalf("falco.yaml:\n%s", applied)
	}
	writeNode(t, root, falcoYAML, []byte(strings.Replace(applied, "\njson_output: true\n", "\njson_output: false\n", 1)))
	p := mustApply(t, s, versioned(root, "0.32.1"))
	if readNode(t, root, falcoYAML) != applied || len(p.Files) != 1 || len(p.Files[0].Changes) != 1 || p.Files[0].Changes[0].Reason != ReasonDrift {
		t.Fatalf("drift not put back as drift: %s", p.Summary())
	}
}
