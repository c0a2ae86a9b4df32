package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/agent"
)

// uncomment turns the commented settings of the default agent.hcl on: a
// "# " before a setting, a block or a closing brace goes; prose stays.
func uncomment(text string) string {
	setting := regexp.MustCompile(`^# ( *([a-z_]+ *(=|\{)|\}))`)
	var out []string
	for _, line := range strings.Split(text, "\n") {
		out = append(out, setting.ReplaceAllString(line, "$1"))
	}
	return strings.Join(out, "\n")
}

// The default agent.hcl sets nothing, and every setting it shows, turned
// on, is one the agent reads without an error.
func TestDefaultAgentConfig(t *testing.T) {
	b, err := os.ReadFile("files/agent.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			t.Errorf("files/agent.hcl:%d: an active setting %q: the default must set nothing", i+1, l)
		}
	}
	on := uncomment(string(b))
	for _, want := range []string{"\nsource {", "\n  url      =", "\ndrift {", "\nmetrics {", "\nnode {", "\nstate_dir ="} {
		if !strings.Contains(on, want) {
			t.Errorf("uncommented default lacks %q:\n%s", want, on)
		}
	}
	file := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(file, []byte(on), 0o644); err != nil {
		t.Fatal(err)
	}
	l := agent.LoadConfig(file)
	if l.Diags.HasErrors() || l.Config == nil {
		t.Fatalf("the documented settings do not load: %v\n%s", l.Diags, on)
	}
	c := l.Config
	if c.Source == nil || c.Source.URL != "https://git.example.com/security/falco-policy.git" || c.Source.Branch != "main" ||
		c.Drift.Mode != agent.DriftRestore || c.Metrics.Listen != "127.0.0.1:9464" || c.Node.Labels["env"] != "prod" ||
		c.StateDir != "/var/lib/rulekeeper" {
		t.Errorf("uncommented default decoded as %+v (source %+v)", c, c.Source)
	}
}

// The maintainer scripts start the agent only once agent.hcl names a
// policy; their test for it must tell the default from a configured file.
func TestConfiguredCheck(t *testing.T) {
	need(t, "grep", "grep")
	pattern := ""
	for _, script := range []string{"scripts/deb/postinst", "scripts/rpm/post"} {
		b, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`grep -Eq '([^']+)' /etc/rulekeeper/agent.hcl`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("%s has no configured check", script)
		}
		if pattern != "" && m[1] != pattern {
			t.Fatalf("%s checks %q, the other script %q", script, m[1], pattern)
		}
		pattern = m[1]
	}
	def, _ := os.ReadFile("files/agent.hcl")
	dir := t.TempDir()
	for name, c := range map[string]struct {
		text       string
		configured bool
	}{
		"default":      {string(def), false},
		"uncommented":  {uncomment(string(def)), true},
		"policy_dir":   {"policy_dir = \"/srv/policy\"\n", true},
		"tight source": {"source{\n url = \"x\"\n}\n", true},
		"source_x":     {"# source {\nsource_x = 1\n", false},
	} {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(c.text), 0o644)
		_, code := runCode(t, "grep", "-Eq", pattern, f)
		if (code == 0) != c.configured {
			t.Errorf("%s: grep exit %d, want configured=%v", name, code, c.configured)
		}
	}
}
