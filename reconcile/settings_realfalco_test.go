//go:build realfalco

package reconcile

import (
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

// settled applies settings to a node of a Falco version, with the real
// Falco as the node's (its `-V` gate runs on the planned config before
// anything is written), and replays the capture with the config Falco then
// reads: falco.yaml and, where it merges one, the node's config.d. It
// returns the alerts.
func settled(t *testing.T, version string, s *policy.Settings) string {
	t.Helper()
	root := realNode(t, version)
	o := opts(root)
	o.FalcoBinary, o.FalcoVersion = realfalco.Binary(t, version), version
	d := policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}}
	if s != nil {
		s.Pos = "settings.hcl:1,1"
		d.Settings = s
	}
	p, err := MakePlan(d, o)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	res, err := Apply(p)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(p.Files) > 0 && !res.Checked {
		t.Fatal("the files were not checked with falco -V")
	}
	args := realfalco.RulesArgs(root)
	if version != "0.32.1" { // the config folder inside the root, as the node's Falco reads it
		args = append(args, "-o", "config_files[0]="+hostPath(root, "/etc/falco/config.d"))
	}
	return realfalco.Replay(t, version, hostPath(root, falcoYAML), capture, args...)
}

// Each setting on every real Falco: `-V` accepts the planned config, and
// the capture's shell alert shows the difference: JSON with json_output,
// gone with a priority above the rule's (Notice), and carrying the field
// with append_output (0.40.0 and 0.44.1; 0.32.1 has none: an error).
func TestRealFalcoSettings(t *testing.T) {
	for _, v := range realfalco.Versions {
		t.Run(v, func(t *testing.T) {
			out := settled(t, v, nil)
			if alerts(out) != 1 || strings.Contains(out, `"rule":"Terminal shell in container"`) {
				t.Fatalf("the vendor's config: want one text alert:\n%s", out)
			}
			t.Run("json_output", func(t *testing.T) {
				out := settled(t, v, &policy.Settings{JSONOutput: ptr(true)})
				if !jsonAlert(out) {
					t.Fatalf("no JSON alert:\n%s", out)
				}
			})
			t.Run("priority", func(t *testing.T) {
				if out := settled(t, v, &policy.Settings{Priority: ptr("warning")}); alerts(out) != 0 {
					t.Fatalf("priority warning, yet a Notice alert:\n%s", out)
				}
				if out := settled(t, v, &policy.Settings{Priority: ptr("NOTICE")}); alerts(out) != 1 {
					t.Fatalf("priority notice, and no alert:\n%s", out)
				}
			})
			t.Run("append_output", func(t *testing.T) {
				s := &policy.Settings{AppendOutput: []string{"rk_uid=%user.uid"}}
				if v == "0.32.1" {
					root := realNode(t, v)
					o := opts(root)
					o.FalcoBinary, o.FalcoVersion = realfalco.Binary(t, v), v
					s.Pos = "settings.hcl:1,1"
					_, err := MakePlan(policy.Desired{Settings: s}, o)
					if err == nil || !strings.Contains(err.Error(), "settings.hcl:1,1: falco_settings block: this node's Falco 0.32.1 has no append_output") {
						t.Fatalf("append_output on 0.32.1: %v", err)
					}
					return
				}
				out := settled(t, v, s)
				if alerts(out) != 1 || !strings.Contains(out, " rk_uid=0") {
					t.Fatalf("the alert does not carry rk_uid=0:\n%s", out)
				}
				// All three at once, as one drop-in.
				out = settled(t, v, &policy.Settings{JSONOutput: ptr(true), Priority: ptr("notice"), AppendOutput: []string{"rk_uid=%user.uid"}})
				if !jsonAlert(out) || !strings.Contains(out, " rk_uid=0") {
					t.Fatalf("all three:\n%s", out)
				}
			})
		})
	}
}

// The gate reads the planned config, not the one on disk: a priority that
// only the planned falco.yaml (0.32.1) or drop-in (0.40.0, 0.44.1) carries
// is refused by the real Falco's -V, and nothing is written. (The policy
// refuses such a priority itself; the plan is made by hand here.)
func TestRealFalcoSettingsGate(t *testing.T) {
	for _, v := range realfalco.Versions {
		t.Run(v, func(t *testing.T) {
			root := realNode(t, v)
			o := opts(root)
			o.FalcoBinary, o.FalcoVersion = realfalco.Binary(t, v), v
			d := policy.Desired{Settings: &policy.Settings{Priority: ptr("bogus"), Pos: "settings.hcl:1,1"}}
			before := snapshot(t, root)
			p, err := MakePlan(d, o)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			_, err = Apply(p)
			if err == nil || !strings.Contains(err.Error(), `Unknown priority "bogus"`) {
				t.Fatalf("want -V to refuse the planned priority, got %v", err)
			}
			if after := snapshot(t, root); !sameSnapshot(before, after) {
				t.Fatal("files changed")
			}
		})
	}
}

func sameSnapshot(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// alerts counts the capture's shell alerts in Falco's output, text or JSON.
func alerts(out string) int {
	return strings.Count(out, shellAlert)
}

// jsonAlert tells whether the shell alert came as a JSON object.
func jsonAlert(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "{") && strings.Contains(l, `"rule":"Terminal shell in container"`) && strings.Contains(l, shellAlert) {
			return true
		}
	}
	return false
}
