package agent

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var configSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "state_dir"}, {Name: "policy_dir"}, {Name: "interval"}, {Name: "splay"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "source"}, {Type: "drift"}, {Type: "metrics"}, {Type: "node"},
		{Type: "falco"}, {Type: "alert"}, {Type: "log"},
	},
}

var blockSchemas = map[string]*hcl.BodySchema{
	"source": {
		Attributes: attrs("url", "branch", "tag", "commit", "path", "interval", "splay", "timeout",
			"username", "password_file", "ssh_key_file", "known_hosts_file"),
		Blocks: []hcl.BlockHeaderSchema{{Type: "verify"}},
	},
	"verify":  {Attributes: attrs("keyring")},
	"drift":   {Attributes: attrs("mode", "quiet")},
	"metrics": {Attributes: attrs("listen", "health_max_age")},
	"node":    {Attributes: attrs("hostname", "labels")},
	"falco":   {Attributes: attrs("binary", "config", "reload", "log_file")},
	"alert":   {Attributes: attrs("webhook_url", "webhook_headers", "webhook_retries", "webhook_timeout", "tags")},
	"log":     {Attributes: attrs("format")},
}

func attrs(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hcl.AttributeSchema{Name: n}
	}
	return out
}

// LoadConfig reads the agent's configuration file. It reports every problem
// it finds, each with its place in the file; Config is nil when there are
// errors.
func LoadConfig(file string) *Loaded {
	p := hclparse.NewParser()
	l := &Loaded{Files: p.Files()}
	src, err := os.ReadFile(file)
	if err != nil {
		l.Diags = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the agent configuration",
			Detail: fmt.Sprintf("%s. Give the file with --config (default %s).", err, DefaultConfigFile)}}
		return l
	}
	f, diags := p.ParseHCL(src, file)
	l.Files = p.Files()
	if diags.HasErrors() {
		l.Diags = diags
		return l
	}
	d := &decoder{base: filepath.Dir(file), diags: diags}
	cfg := d.config(f.Body)
	cfg.File = file
	// In file order, as a reader goes through them.
	slices.SortStableFunc(d.diags, func(a, b *hcl.Diagnostic) int {
		if a.Subject == nil || b.Subject == nil {
			return 0
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	l.Diags = d.diags
	if !l.Diags.HasErrors() {
		l.Config = cfg
	}
	return l
}

type decoder struct {
	base  string // directory of the config file, for relative paths
	diags hcl.Diagnostics
}

func (d *decoder) errorf(rng *hcl.Range, summary, format string, a ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, a...), Subject: rng})
}

func (d *decoder) config(body hcl.Body) *Config {
	cfg := defaultConfig()
	content, diags := body.Content(configSchema)
	d.diags = append(d.diags, diags...)
	a := content.Attributes
	d.path(a, "state_dir", &cfg.StateDir, true)
	d.path(a, "policy_dir", &cfg.PolicyDir, false)
	d.duration(a, "interval", &cfg.Interval, 10*time.Millisecond)
	d.duration(a, "splay", &cfg.Splay, 0)

	blocks := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		if prev := blocks[b.Type]; prev != nil {
			d.errorf(&b.DefRange, "Duplicate "+b.Type+" block",
				"A %s block was already given at %s; merge the two.", b.Type, prev.DefRange)
			continue
		}
		blocks[b.Type] = b
	}
	if b := blocks["source"]; b != nil {
		cfg.Source = d.source(b, cfg)
		if at := a["policy_dir"]; at != nil {
			d.errorf(&at.NameRange, "Both source and policy_dir",
				"The policy comes either from git (the source block at %s) or from a local folder (policy_dir); remove one.", b.DefRange)
		}
		for _, n := range []string{"interval", "splay"} {
			if at := a[n]; at != nil {
				d.errorf(&at.NameRange, "Misplaced "+n, "With a source block, set %s inside it.", n)
			}
		}
	} else if cfg.PolicyDir == "" {
		d.errorf(body.MissingItemRange().Ptr(), "No policy source",
			`Add a source block (source { url = "https://git.example.com/sec/falco-policy.git" }) or, for a sandbox, policy_dir = "DIR".`)
	}
	if b := blocks["drift"]; b != nil {
		a := d.block(b)
		d.oneOf(a, "mode", &cfg.Drift.Mode, DriftRestore, DriftAlert)
		d.duration(a, "quiet", &cfg.Drift.Quiet, time.Millisecond)
	}
	if b := blocks["metrics"]; b != nil {
		a := d.block(b)
		if d.str(a, "listen", &cfg.Metrics.Listen) && cfg.Metrics.Listen != "" {
			if _, _, err := net.SplitHostPort(cfg.Metrics.Listen); err != nil {
				d.errorf(a["listen"].Expr.Range().Ptr(), "Invalid listen address",
					`%v. Give host:port, e.g. "127.0.0.1:9464" (":9464" listens on every address).`, err)
			}
		}
		d.duration(a, "health_max_age", &cfg.Metrics.HealthMaxAge, time.Second)
	}
	if b := blocks["node"]; b != nil {
		a := d.block(b)
		d.str(a, "hostname", &cfg.Node.Hostname)
		d.strMap(a, "labels", &cfg.Node.Labels)
	}
	if b := blocks["falco"]; b != nil {
		a := d.block(b)
		d.str(a, "binary", &cfg.Falco.Binary)
		d.path(a, "config", &cfg.Falco.Config, true)
		d.path(a, "log_file", &cfg.Falco.LogFile, true)
		d.oneOf(a, "reload", &cfg.Falco.Reload, "auto", "watch", "systemd", "sysv", "signal", "none")
	}
	if b := blocks["alert"]; b != nil {
		d.alert(b, cfg)
	}
	if b := blocks["log"]; b != nil {
		d.oneOf(d.block(b), "format", &cfg.Log.Format, "text", "json")
	}
	return cfg
}

var fullSHA = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F]{40}$`) })

func (d *decoder) source(b *hcl.Block, cfg *Config) *SourceConfig {
	content, diags := b.Body.Content(blockSchemas["source"])
	d.diags = append(d.diags, diags...)
	a := content.Attributes
	s := &SourceConfig{}
	if d.str(a, "url", &s.URL) {
		if s.URL == "" {
			d.errorf(a["url"].Expr.Range().Ptr(), "Empty url", "Give the policy repository: https://, ssh://, git://, file:// or a local path.")
		}
		s.URL = d.localURL(s.URL)
	} else if a["url"] == nil {
		d.errorf(&b.DefRange, "Missing url", `The source block needs url = "..." (https://, ssh://, git://, file:// or a local path).`)
	}
	var refs []*hcl.Attribute
	for _, n := range []string{"branch", "tag", "commit"} {
		if a[n] != nil {
			refs = append(refs, a[n])
		}
	}
	if len(refs) > 1 {
		d.errorf(refs[1].NameRange.Ptr(), "More than one ref", "Give one of branch, tag or commit (%s is already set).", refs[0].Name)
	}
	d.str(a, "branch", &s.Branch)
	d.str(a, "tag", &s.Tag)
	if d.str(a, "commit", &s.Commit) && !fullSHA().MatchString(s.Commit) {
		d.errorf(a["commit"].Expr.Range().Ptr(), "Invalid commit", "Give the full 40-character SHA-1: a short one is ambiguous.")
	}
	if d.str(a, "path", &s.Path) && (filepath.IsAbs(s.Path) || strings.HasPrefix(filepath.Clean(s.Path), "..")) {
		d.errorf(a["path"].Expr.Range().Ptr(), "Invalid path", "path is a folder inside the repository, relative to its top.")
	}
	d.duration(a, "interval", &cfg.Interval, 10*time.Millisecond)
	d.duration(a, "splay", &cfg.Splay, 0)
	d.duration(a, "timeout", &s.Timeout, time.Second)
	d.str(a, "username", &s.Username)
	d.path(a, "password_file", &s.PasswordFile, false)
	d.path(a, "ssh_key_file", &s.SSHKeyFile, false)
	d.path(a, "known_hosts_file", &s.KnownHostsFile, false)
	if (s.Username == "") != (s.PasswordFile == "") {
		at := a["username"]
		if at == nil {
			at = a["password_file"]
		}
		d.errorf(at.NameRange.Ptr(), "Incomplete HTTP credentials", `Give both username and password_file (for a token, the user the server expects, often "git").`)
	}
	if (s.SSHKeyFile == "") != (s.KnownHostsFile == "") {
		at := a["ssh_key_file"]
		if at == nil {
			at = a["known_hosts_file"]
		}
		d.errorf(at.NameRange.Ptr(), "Incomplete SSH credentials", "Give both ssh_key_file and known_hosts_file: the server's host key is always checked.")
	}
	var verify *hcl.Block
	for _, vb := range content.Blocks {
		if verify != nil {
			d.errorf(&vb.DefRange, "Duplicate verify block", "Give one verify block.")
			continue
		}
		verify = vb
		va := d.block(vb)
		if !d.path(va, "keyring", &s.Keyring, false) && va["keyring"] == nil {
			d.errorf(&vb.DefRange, "Missing keyring", `The verify block needs keyring = "FILE", an armored OpenPGP public keyring (gpg --export --armor KEYID).`)
		}
	}
	return s
}

func (d *decoder) alert(b *hcl.Block, cfg *Config) {
	a := d.block(b)
	al := &cfg.Alert
	d.str(a, "webhook_url", &al.WebhookURL)
	d.strMap(a, "webhook_headers", &al.WebhookHeaders)
	d.int(a, "webhook_retries", &al.WebhookRetries)
	d.duration(a, "webhook_timeout", &al.WebhookTimeout, time.Millisecond)
	d.strList(a, "tags", &al.Tags)
	if u, err := url.Parse(al.WebhookURL); al.WebhookURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		// The URL itself is not repeated: it may hold a secret.
		d.errorf(a["webhook_url"].Expr.Range().Ptr(), "Invalid alert setting", "webhook_url must be an absolute http:// or https:// URL with a host.")
	}
}

// localURL resolves a relative local repository path against the config
// file's directory; URLs and scp-like addresses stay as they are.
func (d *decoder) localURL(u string) string {
	if strings.Contains(u, "://") || filepath.IsAbs(u) {
		return u
	}
	if i := strings.IndexByte(u, ':'); i > 0 && !strings.Contains(u[:i], "/") {
		return u // host:path, as git reads it
	}
	return filepath.Join(d.base, u)
}

// block decodes a simple block (attributes only, or known sub-blocks).
func (d *decoder) block(b *hcl.Block) hcl.Attributes {
	content, diags := b.Body.Content(blockSchemas[b.Type])
	d.diags = append(d.diags, diags...)
	return content.Attributes
}

// value evaluates an attribute to the given type; false when absent or bad.
func (d *decoder) value(a hcl.Attributes, name string, ty cty.Type) (cty.Value, bool) {
	at := a[name]
	if at == nil {
		return cty.NilVal, false
	}
	v, diags := at.Expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	v, err := convert.Convert(v, ty)
	if err != nil || v.IsNull() || !v.IsWhollyKnown() {
		d.errorf(at.Expr.Range().Ptr(), "Invalid value for "+name, "%s must be %s.", name, ty.FriendlyName())
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) str(a hcl.Attributes, name string, dst *string) bool {
	v, ok := d.value(a, name, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

// path decodes a path; node paths must be absolute (--root maps them),
// others are resolved against the config file's directory.
func (d *decoder) path(a hcl.Attributes, name string, dst *string, node bool) bool {
	var s string
	if !d.str(a, name, &s) {
		return false
	}
	switch {
	case s == "":
		d.errorf(a[name].Expr.Range().Ptr(), "Empty "+name, "Give a path, or leave %s out for its default.", name)
		return false
	case node && !filepath.IsAbs(s):
		d.errorf(a[name].Expr.Range().Ptr(), "Relative "+name, "%s is a path on the node: give it from / (with --root, rulekeeper puts it under the root).", name)
		return false
	case !filepath.IsAbs(s):
		s = filepath.Join(d.base, s)
	}
	*dst = filepath.Clean(s)
	return true
}

func (d *decoder) duration(a hcl.Attributes, name string, dst *time.Duration, min time.Duration) {
	var s string
	if !d.str(a, name, &s) {
		return
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.errorf(a[name].Expr.Range().Ptr(), "Invalid duration for "+name, `%q is not a duration: write it like "30s", "5m" or "1h30m".`, s)
	case v < min:
		d.errorf(a[name].Expr.Range().Ptr(), "Duration too short for "+name, "%s must be at least %v.", name, min)
	default:
		*dst = v
	}
}

func (d *decoder) int(a hcl.Attributes, name string, dst *int) {
	v, ok := d.value(a, name, cty.Number)
	if !ok {
		return
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != 0 || n < 0 {
		d.errorf(a[name].Expr.Range().Ptr(), "Invalid value for "+name, "%s must be a whole number, 0 or more.", name)
		return
	}
	*dst = int(n)
}

func (d *decoder) oneOf(a hcl.Attributes, name string, dst *string, allowed ...string) {
	var s string
	if !d.str(a, name, &s) {
		return
	}
	if !slices.Contains(allowed, s) {
		d.errorf(a[name].Expr.Range().Ptr(), "Invalid value for "+name, "%q is not one of %s.", s, `"`+strings.Join(allowed, `", "`)+`"`)
		return
	}
	*dst = s
}

func (d *decoder) strMap(a hcl.Attributes, name string, dst *map[string]string) {
	v, ok := d.value(a, name, cty.Map(cty.String))
	if !ok {
		return
	}
	m := map[string]string{}
	for k, e := range v.AsValueMap() {
		m[k] = e.AsString()
	}
	*dst = m
}

func (d *decoder) strList(a hcl.Attributes, name string, dst *[]string) {
	v, ok := d.value(a, name, cty.List(cty.String))
	if !ok {
		return
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, e.AsString())
	}
	*dst = out
}
