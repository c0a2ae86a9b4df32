package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// In a --root sandbox, falco -V reads the node's config with its paths taken
// under the root: each absolute config_files entry (written as a path or as
// {path, strategy}) and each plugin's library_path (a relative one in
// Falco's plugins folder). A plugin with no library_path and a relative
// config_files entry are left as Falco has them.
func TestFalcoReadsTheSandboxConfig(t *testing.T) {
	root := node032(t)
	writeNode(t, root, "/etc/falco/falco.yaml", []byte(`rules_file:
  - /etc/falco/falco_rules.yaml
  - /etc/falco/falco_rules.local.yaml
  - /etc/falco/rules.d
config_files:
  - /etc/falco/config.d
  - path: /etc/falco/site.d
    strategy: add-only
  - relative.d
plugins:
  - name: a
    library_path: liba.so
  - name: b
  - name: c
    library_path: /opt/c.so
`))
	args := filepath.Join(t.TempDir(), "args")
	o := at(root, "0.32.1")
	o.FalcoBinary = fakeFalco(t, `for a in "$@"; do echo "$a"; done > `+args)
	if _, err := Apply(mustPlan(t, exam(policy.InPlace), o)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	got := "\n" + string(b)
	for _, w := range []string{
		"\n-c\n" + root + "/etc/falco/falco.yaml\n",
		"\n-o\nconfig_files[0]=" + root + "/etc/falco/config.d\n",
		"\n-o\nconfig_files[1].path=" + root + "/etc/falco/site.d\n",
		"\n-o\nplugins[0].library_path=" + root + "/usr/share/falco/plugins/liba.so\n",
		"\n-o\nplugins[2].library_path=" + root + "/opt/c.so\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("falco ran without %q:\n%s", strings.TrimSpace(w), b)
		}
	}
	for _, w := range []string{"config_files[2]", "plugins[1]"} {
		if strings.Contains(got, w) {
			t.Errorf("falco ran with %s set:\n%s", w, b)
		}
	}
}
