package agent

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultConfigFile is where `rulekeeper run` reads its configuration.
const DefaultConfigFile = "/etc/rulekeeper/agent.hcl"

// Drift modes.
const (
	DriftRestore = "restore" // a pass puts a changed managed value back
	DriftAlert   = "alert"   // a changed managed value is only reported
)

// Config is the agent's configuration file, decoded, with defaults filled in.
// Paths of the node (StateDir, Falco.*) are node paths: --root maps them.
// Paths of the operator's inputs (PolicyDir, credentials, keyring, a local
// repository URL) are resolved against the config file's directory.
type Config struct {
	File string // the file it was read from

	Source    *SourceConfig // nil when PolicyDir is used
	PolicyDir string        // a local policy folder instead of a git source
	// Interval and Splay space the polls: every Interval, shifted by an
	// offset below Splay drawn once at start, so that a fleet does not hit
	// the git server all at once.
	Interval, Splay time.Duration

	Drift    DriftConfig
	Metrics  MetricsConfig
	StateDir string
	Node     NodeConfig
	Falco    FalcoConfig
	Alert    AlertConfig
	Log      LogConfig
}

// SourceConfig is the git repository holding the policy.
type SourceConfig struct {
	URL                 string
	Branch, Tag, Commit string
	Path                string
	Timeout             time.Duration // bound on one fetch; 0: the source's default
	Username            string
	PasswordFile        string
	SSHKeyFile          string
	KnownHostsFile      string
	Keyring             string // verify { keyring }: only commits signed by these keys are applied
}

// DriftConfig says what to do when a managed value is changed outside rulekeeper.
type DriftConfig struct {
	Mode string // DriftRestore or DriftAlert
	// Quiet is how long the rule files must be left alone after an event
	// before the pass runs, so that an editor's save is one pass.
	Quiet time.Duration
}

// MetricsConfig is the HTTP listener for /metrics and /healthz; off when Listen is "".
type MetricsConfig struct {
	Listen       string
	HealthMaxAge time.Duration
}

// NodeConfig gives the node facts a policy sees besides what is detected.
type NodeConfig struct {
	Hostname string
	Labels   map[string]string
}

// FalcoConfig says where Falco is.
type FalcoConfig struct {
	Binary string // for `falco -V` checks and the version; "none" turns them off
	Config string // falco.yaml, for reloading
	Reload string // how to reload Falco: auto, watch, systemd, sysv, signal, none
	// LogFile is where Falco's log goes on a node without journald (an
	// init script that sends Falco's output to a file): the verify reads it
	// for the proof of a load, and for a refusal that leaves Falco running
	// (0.40's hot restart failure). "" when there is none.
	LogFile string
}

// AlertConfig says where alerts go besides the log.
type AlertConfig struct {
	WebhookURL     string
	WebhookHeaders map[string]string
	WebhookRetries int
	WebhookTimeout time.Duration
	Tags           []string
}

// LogConfig shapes the log when not under systemd (journald gets fields).
type LogConfig struct {
	Format string // text or json
}

func defaultConfig() *Config {
	return &Config{
		Interval: 30 * time.Second,
		Drift:    DriftConfig{Mode: DriftRestore, Quiet: 30 * time.Millisecond},
		Metrics:  MetricsConfig{HealthMaxAge: 5 * time.Minute},
		StateDir: "/var/lib/rulekeeper",
		Node:     NodeConfig{Labels: map[string]string{}},
		Falco:    FalcoConfig{Binary: "falco", Config: "/etc/falco/falco.yaml", Reload: "auto"},
		Alert:    AlertConfig{WebhookRetries: 3, WebhookTimeout: 5 * time.Second},
		Log:      LogConfig{Format: "text"},
	}
}

// Loaded is a config file as read: its value and the diagnostics, with the
// source to render them (policy.WriteDiagnostics).
type Loaded struct {
	Config *Config
	Diags  hcl.Diagnostics
	Files  map[string]*hcl.File
}
