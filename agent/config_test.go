package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigMinimalDefaults(t *testing.T) {
	p := writeConfig(t, `source { url = "https://git.example.com/sec/falco-policy.git" }`+"\n")
	l := LoadConfig(p)
	if l.Config == nil {
		t.Fatalf("diags: %v", l.Diags)
	}
	c := l.Config
	if c.Source.URL != "https://git.example.com/sec/falco-policy.git" || c.Interval != 30*time.Second ||
		c.Drift.Mode != DriftRestore || c.StateDir != "/var/lib/rulekeeper" || c.Metrics.Listen != "" ||
		c.Falco.Binary != "falco" || c.Log.Format != "text" {
		t.Fatalf("defaults: %+v %+v", c, c.Source)
	}
	// README: /healthz tolerates a failed pass for 5 minutes after the last success.
	if c.Metrics.HealthMaxAge != 5*time.Minute || c.Drift.Quiet != 30*time.Millisecond ||
		c.Alert.WebhookRetries != 3 || c.Alert.WebhookTimeout != 5*time.Second {
		t.Fatalf("defaults: metrics %+v, drift %+v, alert %+v", c.Metrics, c.Drift, c.Alert)
	}
}

func TestConfigFull(t *testing.T) {
	p := writeConfig(t, `
source {
  url              = "repo"
  tag              = "v3"
  path             = "fleet"
  interval         = "1m"
  splay            = "10s"
  username         = "git"
  password_file    = "token"
  verify { keyring = "/etc/rulekeeper/trusted.asc" }
}
drift   { mode = "alert" }
metrics { listen = "127.0.0.1:9464" }
state_dir = "/var/lib/rk"
node {
  hostname = "web-1"
  labels   = { env = "prod", team = "sec" }
}
falco {
  binary   = "none"
  log_file = "/var/log/falco.log"
}
alert {
  webhook_url = "http://127.0.0.1:2801/"
  tags        = ["fleet"]
}
log { format = "json" }
`)
	l := LoadConfig(p)
	if l.Config == nil {
		t.Fatalf("diags: %v", l.Diags)
	}
	c, dir := l.Config, filepath.Dir(p)
	if c.Source.URL != filepath.Join(dir, "repo") || c.Source.PasswordFile != filepath.Join(dir, "token") ||
		c.Source.Tag != "v3" || c.Interval != time.Minute || c.Splay != 10*time.Second ||
		c.Drift.Mode != DriftAlert || c.Metrics.Listen != "127.0.0.1:9464" || c.StateDir != "/var/lib/rk" ||
		c.Node.Labels["env"] != "prod" || c.Alert.Tags[0] != "fleet" || c.Log.Format != "json" ||
		c.Source.Keyring != "/etc/rulekeeper/trusted.asc" || c.Falco.LogFile != "/var/log/falco.log" {
		t.Fatalf("decoded: %+v %+v", c, c.Source)
	}
}

// Every bad value is an error at its place in the file, all in one go.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string // "line:col summary"
	}{
		{"no source", "drift { mode = \"restore\" }\n", []string{"1:1 No policy source"}},
		{"bad values", `source {
  url      = "https://git.example.com/p.git"
  branch   = "main"
  tag      = "v3"
  interval = "30 seconds"
}
drift   { mode = "fix" }
metrics { listen = "9464" }
state_dir = "var/lib/rulekeeper"
`, []string{"4:3 More than one ref", "5:14 Invalid duration for interval", "7:18 Invalid value for mode",
			"8:20 Invalid listen address", "9:13 Relative state_dir"}},
		{"unknown and misspelled", `source {
  url = "https://git.example.com/p.git"
  intervall = "1s"
}
drfit { mode = "alert" }
`, []string{"3:3 Unsupported argument", "5:1 Unsupported block type"}},
		{"credentials half given", `source {
  url = "https://git.example.com/p.git"
  username = "git"
}
`, []string{"3:3 Incomplete HTTP credentials"}},
		{"short commit and bad webhook", `source {
  url    = "https://git.example.com/p.git"
  commit = "abc123"
}
alert { webhook_url = "ftp://x" }
`, []string{"3:12 Invalid commit", "5:23 Invalid alert setting"}},
		{"webhook without a scheme", `policy_dir = "p"
alert { webhook_url = "hooks.slack.com/services/SECRET" }
`, []string{"2:23 Invalid alert setting"}},
		{"both sources", `policy_dir = "p"
source { url = "https://git.example.com/p.git" }
`, []string{"1:1 Both source and policy_dir"}},
		{"wrong type", `policy_dir = "p"
node { labels = ["a"] }
`, []string{"2:17 Invalid value for labels"}},
		{"syntax", "source {\n  url = \n}\n", []string{"2:9 Invalid expression"}},
		{"intervals under 10 ms", "policy_dir = \"p\"\ninterval = \"5ms\"\n", []string{"2:12 Duration too short for interval"}},
		{"source interval under 10 ms", "source {\n  url = \"https://git.example.com/p.git\"\n  interval = \"5ms\"\n}\n",
			[]string{"3:14 Duration too short for interval"}},
		{"verify without a keyring", "source {\n  url = \"https://git.example.com/p.git\"\n  verify {}\n}\n",
			[]string{"3:3 Missing keyring"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := LoadConfig(writeConfig(t, tc.body))
			if l.Config != nil {
				t.Fatal("a bad config gave a Config")
			}
			var got []string
			for _, d := range l.Diags {
				at := "-"
				if d.Subject != nil {
					at = fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
				}
				got = append(got, at+" "+d.Summary)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestConfigMissingFile(t *testing.T) {
	l := LoadConfig(filepath.Join(t.TempDir(), "nope.hcl"))
	if l.Config != nil || !l.Diags.HasErrors() || !strings.Contains(l.Diags[0].Detail, "--config") {
		t.Fatalf("diags: %v", l.Diags)
	}
}

// A relative source url is a folder beside the config file; URLs, absolute
// paths and git's scp-like host:path stay as written. A colon after a slash,
// or first, does not make a host.
func TestConfigSourceURLResolved(t *testing.T) {
	for url, want := range map[string]string{
		"https://git.example.com/p.git": "https://git.example.com/p.git",
		"/srv/policy":                   "/srv/policy",
		"git@git.example.com:sec/p.git": "git@git.example.com:sec/p.git",
		"policy":                        "BASE/policy",
		"./a:b/policy":                  "BASE/a:b/policy",
		":policy":                       "BASE/:policy",
	} {
		p := writeConfig(t, fmt.Sprintf("source { url = %q }\n", url))
		l := LoadConfig(p)
		if l.Config == nil {
			t.Fatalf("%s: %v", url, l.Diags)
		}
		if want = strings.Replace(want, "BASE", filepath.Dir(p), 1); l.Config.Source.URL != want {
			t.Errorf("url %q reads as %q, want %q", url, l.Config.Source.URL, want)
		}
	}
}
