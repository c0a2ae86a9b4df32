//go:build realfalco

package daemon

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

// The daemon checks with the node's real Falco 0.32.1 and the node's
// config, which the agent config names (the policy names none) and which
// is not at /etc/falco/falco.yaml: a good change is written, a change
// Falco cannot load is refused with Falco's reason, naming that config.
func TestRealFalcoDaemonNodeConfig(t *testing.T) {
	bin := realfalco.Binary(t, "0.32.1")
	l := newLab(t, labOpts{local: true, interval: "200ms"})
	if err := os.MkdirAll(l.host("/opt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(l.host("/etc/falco"), l.host("/opt/falco")); err != nil {
		t.Fatal(err)
	}
	cfgPath := l.host("/opt/falco/falco.yaml")
	fc, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	gitserve.WriteFile(t, cfgPath, strings.ReplaceAll(string(fc), "/etc/falco/", "/opt/falco/"))
	agentCfg, err := os.ReadFile(l.cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	gitserve.WriteFile(t, l.cfgFile, strings.Replace(string(agentCfg), `falco { binary = "none" }`,
		fmt.Sprintf("falco {\n  binary = %q\n  config = \"/opt/falco/falco.yaml\"\n  reload = \"none\"\n}", bin), 1))

	d, err := New(l.config(), Options{Root: l.root, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.startDaemon(d)
	rules := func() string {
		b, _ := os.ReadFile(l.host("/opt/falco/falco_rules.yaml"))
		return string(b)
	}
	testwait.Eventually(t, 20*time.Second, "the exam's change checked by Falco and written", func() bool {
		return strings.Contains(rules(), "  output: >\n"+examLine)
	})

	before := rules()
	l.commit("policy.hcl", strings.Replace(examText(t), `"NEW SHELL!!!"`, `"NEW SHELL!!! 100% sure"`, 1))
	d.Trigger()
	e := l.hook.wait(t, 20*time.Second, "error", nil)
	for _, want := range []string{"falco -V rejects", "Falco read the node's config /opt/falco/falco.yaml", "/opt/falco/falco_rules.yaml", "Invalid output format"} {
		if !strings.Contains(e.Output, want) {
			t.Errorf("the error alert does not say %q:\n%s", want, e.Output)
		}
	}
	if rules() != before {
		t.Fatal("the refused change was written")
	}
}
