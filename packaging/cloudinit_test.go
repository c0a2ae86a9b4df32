package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/agent"
)

// The cloud-init example: valid cloud-config, a Jinja template (so that the
// metadata values are filled in), and an agent.hcl the agent reads once
// cloud-init has rendered it.
func TestCloudInitUserData(t *testing.T) {
	const file = "../examples/cloud-init/user-data"
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if lines[0] != "## template: jinja" || lines[1] != "#cloud-config" {
		t.Fatalf("%s must start with \"## template: jinja\" then \"#cloud-config\", got %q", file, lines[:2])
	}
	var ud struct {
		WriteFiles []struct {
			Path, Owner, Permissions, Content string
		} `yaml:"write_files"`
		Packages []string `yaml:"packages"`
		Runcmd   []any    `yaml:"runcmd"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&ud); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var hcl string
	for _, f := range ud.WriteFiles {
		switch f.Path {
		case "/etc/rulekeeper/agent.hcl":
			hcl = f.Content
		case "/etc/rulekeeper/git-token":
			if f.Permissions != "0600" {
				t.Errorf("the token is written %s, want 0600", f.Permissions)
			}
		}
	}
	if hcl == "" {
		t.Fatal("user-data writes no /etc/rulekeeper/agent.hcl")
	}
	if !strings.Contains(strings.Join(ud.Packages, " "), "rulekeeper") {
		t.Error("user-data does not install rulekeeper")
	}
	if len(ud.Runcmd) == 0 || !strings.Contains(string(b), "rulekeeper status --json") {
		t.Error("user-data does not wait for the node to converge")
	}

	// What cloud-init renders on an instance.
	meta := map[string]string{"local_hostname": "node-1", "cloud_name": "aws", "region": "eu-west-1",
		"availability_zone": "eu-west-1a", "instance_id": "i-0abc"}
	rendered := regexp.MustCompile(`\{\{ v1\.([a-z_]+) \}\}`).ReplaceAllStringFunc(hcl, func(m string) string {
		k := regexp.MustCompile(`v1\.([a-z_]+)`).FindStringSubmatch(m)[1]
		v, ok := meta[k]
		if !ok {
			t.Errorf("user-data uses v1.%s, which this test does not know: is it standard instance metadata?", k)
		}
		return v
	})
	if strings.Contains(rendered, "{{") {
		t.Fatalf("Jinja left in agent.hcl after rendering:\n%s", rendered)
	}
	path := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(path, []byte(rendered), 0o644)
	l := agent.LoadConfig(path)
	if l.Config == nil {
		t.Fatalf("the rendered agent.hcl does not load: %v\n%s", l.Diags, rendered)
	}
	if got := l.Config.Node.Labels["region"]; got != "eu-west-1" {
		t.Errorf("node.labels.region = %q, want the metadata's eu-west-1", got)
	}
	if l.Config.Node.Hostname != "node-1" {
		t.Errorf("node.hostname = %q", l.Config.Node.Hostname)
	}
}
