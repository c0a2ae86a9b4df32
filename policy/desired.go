package policy

// Desired is what a policy asks of one node, after every expression has been
// evaluated against that node's facts. It is plain data: the reconcile
// package turns it into file edits without knowing anything of HCL.
type Desired struct {
	Falco Falco
	// Rules in the order the policy declares them (files sorted by name,
	// blocks in file order). Rules whose `when` is false are left out.
	Rules []Rule
	// Lists are the Falco lists the policy changes, in declaration order.
	Lists []List `json:",omitempty"`
	// Macros are the Falco macros the policy changes, in declaration order.
	Macros []Macro `json:",omitempty"`
	// Files are the whole rules files the policy ships, in declaration order.
	Files []File `json:",omitempty"`
	// Settings are Falco's own settings the policy manages, nil without a
	// falco_settings block.
	Settings *Settings `json:",omitempty"`
	// Rollout is the policy's rollout block, nil without one. It is the
	// same for every node.
	Rollout *Rollout `json:",omitempty"`
}

// Strategy says how a rule change reaches Falco.
type Strategy string

const (
	// InPlace splices the new value into the vendor's rules file.
	InPlace Strategy = "in_place"
	// Override leaves the vendor file alone and writes an agent-owned file
	// that Falco loads later.
	Override Strategy = "override"
	// Auto picks Override where the Falco version is known, else InPlace.
	Auto Strategy = "auto"
)

// Falco holds the settings of the policy's `falco` block. Paths are node
// paths (as Falco sees them), not yet joined with a sandbox root.
type Falco struct {
	// Config is falco.yaml; its rules_file(s) list is used when RulesFiles
	// is empty. Empty when the policy names none: the node's falco.yaml.
	Config string
	// RulesFiles, when set, replaces the list read from falco.yaml.
	RulesFiles []string
	Strategy   Strategy
	// OverrideFile is the agent-owned file for the override strategy.
	OverrideFile string
	// Version is the `falco_version` setting: the version to assume when no
	// falco binary answers `falco --version`. Empty when not set.
	Version string
}

// Defaults for the falco block.
const (
	DefaultConfig       = "/etc/falco/falco.yaml"
	DefaultOverrideFile = "/etc/falco/rules.d/50-rulekeeper.yaml"
)

// Rule is the desired state of one Falco rule. A nil field is not managed.
type Rule struct {
	Name     string
	Output   *Output
	Priority *string
	Enabled  *bool
	// Exceptions are added to the rule's, in declaration order.
	Exceptions []Exception `json:",omitempty"`
	// Pos is where the rule block starts, for messages ("policy.hcl:3,1").
	Pos string
	// Condition, Tags and Desc are the rule's tuning (see conditions.go).
	Condition *Condition `json:",omitempty"`
	Tags      *Tags      `json:",omitempty"`
	Desc      *string    `json:",omitempty"`
}

// Output describes how a rule's output differs from the vendor's.
type Output struct {
	// Replace, when non-nil, is the whole new output; the other fields are empty.
	Replace *string
	// Prefix is text the output starts with.
	Prefix string
	// Include lists tokens that must appear somewhere in the output.
	Include []string
	// Exclude lists whitespace-separated tokens removed from the vendor's output.
	Exclude []string
}

// List is the desired state of one Falco list, described from the vendor's
// items: Add and Remove change them, Items (when Replace) replaces them.
type List struct {
	Name string
	// Add lists items appended when the list lacks them; Remove lists items
	// taken out wherever they stand.
	Add, Remove []string `json:",omitempty"`
	// Replace says Items is the whole new list (Add and Remove are empty).
	Replace bool     `json:",omitempty"`
	Items   []string `json:",omitempty"`
	Pos     string
}

// File is a whole rules file the policy ships: its bytes are written to
// Path on the node, which rulekeeper then owns.
type File struct {
	// Path is the node path Falco loads the file from.
	Path string
	// Source is the file in the policy folder, relative to it.
	Source string
	// SHA256 is the content's hash: the desired state's record of it.
	SHA256  string
	Content []byte `json:"-"`
	Pos     string
}
