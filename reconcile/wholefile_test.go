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
	teamPath  = "/etc/falco/rules.d/60-team.yaml"
	teamRules = "- list: team_binaries\n  items: [team-agent]\n\n- rule: Team agent spawned\n  desc: the team's agent ran\n  condition: spawned_process and proc.name in (team_binaries)\n  output: team agent ran (command=%proc.cmdline)\n  priority: INFO\n"
)

func filePolicy(files ...policy.File) policy.Desired {
	for i := range files {
		files[i].Pos = "tuning.hcl:3,1"
		if files[i].Source == "" {
			files[i].Source = "rules/60-team.yaml"
		}
	}
	return policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}, Files: files}
}

func team(content string) policy.File {
	return policy.File{Path: teamPath, Content: []byte(content), SHA256: sum([]byte(content))}
}

// A shipped file is written whole, with rulekeeper's header, owned (in the
// state), put back after drift, rewritten when the policy's copy changes,
// and removed when it leaves the policy.
func TestFileLifecycle(t *testing.T) {
	root := node032(t)
	p := mustApply(t, filePolicy(team(teamRules)), opts(root))
	if len(p.Files) != 1 || p.Files[0].Action != Create || p.Files[0].Changes[0].Kind != "file" {
		t.Fatalf("want one file created, got %s", p.Summary())
	}
	want := ownHeader + "# Source: rules/60-team.yaml in the policy.\n" + teamRules
	if got := readNode(t, root, teamPath); got != want {
		t.Fatalf("written:\n%s\nwant:\n%s", got, want)
	}
	st, err := LoadState(opts(root).StatePath())
	if err != nil || st.Files[teamPath] == nil || !st.Files[teamPath].Owned || st.Files[teamPath].Source != "rules/60-team.yaml" {
		t.Fatalf("the state does not own the file: %+v %v", st.Files[teamPath], err)
	}
	if p := mustPlan(t, filePolicy(team(teamRules)), opts(root)); !p.Empty() {
		t.Fatalf("converged, yet: %s", p.Summary())
	}

	writeNode(t, root, teamPath, []byte(want+"- list: sneaked_in\n  items: [x]\n"))
	p = mustApply(t, filePolicy(team(teamRules)), opts(root))
	if len(p.Files) != 1 || p.Files[0].Changes[0].Reason != ReasonDrift || readNode(t, root, teamPath) != want {
		t.Fatalf("drift not put back: %s", p.Summary())
	}

	os.Remove(filepath.Join(root, teamPath))
	p = mustApply(t, filePolicy(team(teamRules)), opts(root))
	if len(p.Files) != 1 || p.Files[0].Action != Create || p.Files[0].Changes[0].Reason != ReasonDrift || readNode(t, root, teamPath) != want {
		t.Fatalf("a removed file not put back as drift: %s", p.Summary())
	}

	changed := strings.Replace(teamRules, "team-agent", "team-agent, team-cron", 1)
	p = mustApply(t, filePolicy(team(changed)), opts(root))
	if len(p.Files) != 1 || p.Files[0].Action != Update || p.Files[0].Changes[0].Reason != ReasonPolicy ||
		!strings.Contains(p.Files[0].Diff(), "+  items: [team-agent, team-cron]") {
		t.Fatalf("want the policy's new copy written, got %s\n%s", p.Summary(), p.Files[0].Diff())
	}

	p = mustApply(t, filePolicy(), opts(root))
	if len(p.Files) != 1 || p.Files[0].Action != Delete {
		t.Fatalf("want the file removed, got %s", p.Summary())
	}
	if _, err := os.Stat(filepath.Join(root, teamPath)); !os.IsNotExist(err) {
		t.Fatalf("the file is still there: %v", err)
	}
	if p := mustPlan(t, filePolicy(), opts(root)); !p.Empty() {
		t.Fatalf("converged, yet: %s", p.Summary())
	}
}

// What is refused, before anything is written.
func TestFileRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root string)
		file  policy.File
		want  string
	}{
		{"a file Falco does not load", nil, policy.File{Path: "/etc/falco/extra/60-team.yaml", Content: []byte(teamRules)},
			`tuning.hcl:3,1: file "/etc/falco/extra/60-team.yaml": it is not among the files Falco loads`},
		{"a file someone else wrote", func(t *testing.T, root string) {
			writeNode(t, root, teamPath, []byte("# the team's own\n"))
		}, team(teamRules), "/etc/falco/rules.d/60-team.yaml exists and was not written by rulekeeper"},
		{"the override file", nil, policy.File{Path: policy.DefaultOverrideFile, Content: []byte(teamRules)},
			"it is the override_file"},
		{"not a rules file", nil, team("- rule: x\n  desc: [unclosed\n"),
			"the source is not a Falco rules file: policy file rules/60-team.yaml:2"},
		{"not a list of rules", nil, team("rule: x\n"),
			"the source is not a Falco rules file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			before := snapshot(t, root)
			_, err := MakePlan(filePolicy(tc.file), opts(root))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
			if after := snapshot(t, root); !maps.Equal(after, before) {
				t.Fatal("a refused plan changed files")
			}
		})
	}
}

// A shipped file is rulekeeper's: rules and lists are not looked up in it.
func TestFileNotVendor(t *testing.T) {
	root := node032(t)
	mustApply(t, filePolicy(team(teamRules)), opts(root))
	d := filePolicy(team(teamRules))
	d.Lists = []policy.List{{Name: "team_binaries", Add: []string{"x"}, Pos: "tuning.hcl:9,1"}}
	if _, err := MakePlan(d, opts(root)); err == nil || !strings.Contains(err.Error(), `list "team_binaries" is not defined`) {
		t.Fatalf("want the list not found among the vendor's files, got %v", err)
	}
}
