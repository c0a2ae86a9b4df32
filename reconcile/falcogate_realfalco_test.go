//go:build realfalco

package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

// gateNode is a node of one Falco version for the `falco -V` gate: its
// upstream config and rules file, laid out under dir (a node path: the
// package's /etc/falco, or a custom one), the container plugin turned on
// through config.d for 0.44.1 as a node that runs falco-rules 5.x must.
type gateNode struct {
	version  string
	config   string // falco.yaml of the version, in testdata/falco
	rules    string // the rules file it ships
	strategy policy.Strategy
}

var gateNodes = []gateNode{
	{"0.32.1", "falco-0.32.1.yaml", "falco_rules-0.32.1.yaml", policy.InPlace},
	{"0.40.0", "falco-0.40.0.yaml", "falco_rules-3.2.0.yaml", policy.Override},
	{"0.44.1", "falco-0.44.1.yaml", "falco_rules-5.1.0.yaml", policy.Override},
}

// lay writes the node under root (the host's / when root is "") with its
// Falco files in dir, and returns the config's node path. In a sandbox the
// plugin goes where the upstream config's relative library_path points
// inside it; on the live root it stays where it is, named by an absolute
// path, as on a node with Falco installed elsewhere.
func (g gateNode) lay(t *testing.T, root, dir string) string {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join("testdata/falco", g.config))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join("testdata/falco", g.rules))
	if err != nil {
		t.Fatal(err)
	}
	c := strings.ReplaceAll(string(cfg), "/etc/falco/", dir+"/")
	if g.version == "0.44.1" {
		plugin := realfalco.ContainerPlugin(t)
		if root == "" {
			c = strings.Replace(c, "library_path: libcontainer.so", "library_path: "+plugin, 1)
		} else {
			realfalco.InstallPlugin(t, root, "/usr/share/falco/plugins/libcontainer.so", plugin)
		}
		writeNode(t, root, dir+"/config.d/10-container.yaml", []byte("load_plugins: [container]\n"))
	}
	writeNode(t, root, dir+"/falco.yaml", []byte(c))
	writeNode(t, root, dir+"/falco_rules.yaml", rules)
	writeNode(t, root, dir+"/falco_rules.local.yaml", []byte("# Your custom rules!\n"))
	if err := os.MkdirAll(filepath.Join(root, dir, "rules.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + "/falco.yaml"
}

// The `falco -V` gate runs the node's real Falco with the node's config: in
// a --root sandbox (the config, config.d and plugin inside the root) and on
// a node whose config is not at /etc/falco/falco.yaml. It lets the exam's
// change through and refuses one Falco cannot load ("100%" followed by a
// space is not a valid output: rulekeeper's own checks let it pass, Falco
// does not), naming the node's file and writing nothing.
func TestRealFalcoGate(t *testing.T) {
	for _, g := range gateNodes {
		bin := realfalco.Binary(t, g.version)
		for _, layout := range []string{"sandbox", "custom-config"} {
			t.Run(g.version+"/"+layout, func(t *testing.T) {
				fresh := func(t *testing.T) (Options, policy.Desired, string) {
					var root, dir string
					switch layout {
					case "sandbox":
						root, dir = t.TempDir(), "/etc/falco"
					default: // the live root, Falco's files in a folder of their own
						dir = t.TempDir()
					}
					cfg := g.lay(t, root, dir)
					o := Options{Root: root, StateDir: dir + "/state", FalcoBinary: bin, FalcoVersion: g.version}
					if root == "" {
						o.StateDir = t.TempDir()
					}
					d := exam(g.strategy)
					d.Falco.Config = cfg
					d.Falco.OverrideFile = dir + "/rules.d/50-rulekeeper.yaml"
					return o, d, dir
				}

				t.Run("good", func(t *testing.T) {
					o, d, dir := fresh(t)
					p := mustPlan(t, d, o)
					res, err := Apply(p)
					if err != nil {
						t.Fatalf("the exam's change refused: %v", err)
					}
					if !res.Checked {
						t.Fatal("written without falco -V")
					}
					f := dir + "/falco_rules.yaml"
					if g.strategy == policy.Override {
						f = d.Falco.OverrideFile
					}
					if got := readNode(t, o.Root, f); !strings.Contains(got, "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository") {
						t.Fatalf("%s does not carry the change:\n%s", f, got)
					}
				})

				t.Run("bad", func(t *testing.T) {
					o, d, dir := fresh(t)
					d.Rules[0].Output.Prefix = "NEW SHELL!!! 100% sure"
					before := snapshot(t, filepath.Join(o.Root, dir))
					p := mustPlan(t, d, o)
					_, err := Apply(p)
					if err == nil {
						t.Fatal("Falco's -V let through an output it cannot load")
					}
					msg := err.Error()
					t.Logf("refused:\n%s", msg)
					// 0.32.1 quotes the bad output; 0.40.0 and 0.44.1 name the
					// file that fails and show the vendor's definition.
					wants := []string{"falco -V rejects", "nothing was written", "Falco read the node's config " + d.Falco.Config}
					if g.strategy == policy.Override {
						wants = append(wants, d.Falco.OverrideFile+": Invalid")
					} else {
						wants = append(wants, dir+"/falco_rules.yaml", "Invalid output format 'NEW SHELL!!! 100% sure")
					}
					for _, want := range wants {
						if !strings.Contains(msg, want) {
							t.Errorf("the error does not say %q:\n%s", want, msg)
						}
					}
					for _, not := range []string{"rulekeeper-check-", "You must create a config file"} {
						if strings.Contains(msg, not) {
							t.Errorf("the error says %q:\n%s", not, msg)
						}
					}
					if o.Root != "" && strings.Contains(msg, o.Root) {
						t.Errorf("the error names the sandbox's host path %s instead of node paths:\n%s", o.Root, msg)
					}
					sameTree(t, before, snapshot(t, filepath.Join(o.Root, dir)))
				})
			})
		}
	}
}

// In a sandbox the plugin the config names is looked for inside the root,
// never on the host: without it there, Falco says which file it missed.
func TestRealFalcoGatePluginInsideRoot(t *testing.T) {
	g := gateNodes[2]
	bin := realfalco.Binary(t, g.version)
	root := t.TempDir()
	cfg := g.lay(t, root, "/etc/falco")
	if err := os.Remove(filepath.Join(root, "usr/share/falco/plugins/libcontainer.so")); err != nil {
		t.Fatal(err)
	}
	d := exam(g.strategy)
	d.Falco.Config = cfg
	p := mustPlan(t, d, Options{Root: root, StateDir: "/var/lib/rulekeeper", FalcoBinary: bin, FalcoVersion: g.version})
	_, err := Apply(p)
	if err == nil || !strings.Contains(err.Error(), "cannot load plugin /usr/share/falco/plugins/libcontainer.so") {
		t.Fatalf("want Falco's message about the plugin missing from the root, got: %v", err)
	}
}

// A falco that does not answer is stopped, and the error says it timed out
// and after how long, not that Falco rejected the files.
func TestFalcoGateTimeout(t *testing.T) {
	dir := t.TempDir()
	slow := filepath.Join(dir, "falco")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\necho 'Validating rules file(s):'\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := falcoValidateTimeout
	falcoValidateTimeout = 300 * time.Millisecond
	t.Cleanup(func() { falcoValidateTimeout = old })
	root := node032(t)
	o := at(root, "0.32.1")
	o.FalcoBinary = slow
	before := snapshot(t, root)
	start := time.Now()
	_, err := Apply(mustPlan(t, exam(policy.InPlace), o))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Apply took %v with a 300ms timeout", took)
	}
	if err == nil {
		t.Fatal("a falco that never answers passed the check")
	}
	for _, want := range []string{"falco -V timed out: no answer within 300ms, stopped", "nothing was written", "Validating rules file(s):"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "rejects") {
		t.Errorf("a timeout reported as a rejection: %v", err)
	}
	sameTree(t, before, snapshot(t, root))
}
