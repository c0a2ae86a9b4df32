package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ruleSet is what the engine knows after loading files in order: later files may append to or
// override rules and macros defined earlier, so loading is stateful across files.
type ruleSet struct {
	version string
	rules   map[string]bool
	macros  map[string]bool
	lists   map[string]bool
}

func newRuleSet(version string) *ruleSet {
	return &ruleSet{version: version, rules: map[string]bool{}, macros: map[string]bool{}, lists: map[string]bool{}}
}

// loadError is a file that Falco would refuse, worded like Falco's rule
// loader: msg is 0.32.1's text, code the LOAD_ERR_* code newer Falco adds.
type loadError struct {
	file   string
	code   string
	msg    string
	newMsg string // newer Falco's wording, where it differs
	item   string // the item's source text, which 0.32.1 echoes
}

// Load error codes of newer Falco, with the description it prints.
const (
	errParse    = "LOAD_ERR_YAML_PARSE (YAML parse error)"
	errValidate = "LOAD_ERR_YAML_VALIDATE (Error validating internal structure of YAML file)"
	errOutput   = "LOAD_ERR_COMPILE_OUTPUT (Error compiling output)"
	errObjects  = "LOAD_ERR_VALIDATE (Error validating rule/macro/list/exception objects)"
)

// Error is how the daemon reports it (0.32.1: "Error: Could not load rules file ...").
func (e *loadError) Error() string { return "Could not load rules file " + e.file + ": " + e.oldText() }

// oldText is 0.32.1's report: the message, then the item between "---" lines.
func (e *loadError) oldText() string {
	s := "1 errors:\n" + e.msg
	if e.item != "" {
		s += "\n---\n" + e.item + "\n---"
	}
	return s
}

// newText is newer Falco's report of the file.
func (e *loadError) newText() string {
	msg := e.msg
	if e.newMsg != "" {
		msg = e.newMsg
	}
	return e.file + ": Invalid\n1 Errors:\n" + e.code + ": " + msg
}

var priorities = map[string]bool{
	"emergency": true, "alert": true, "critical": true, "error": true, "warning": true,
	"notice": true, "informational": true, "info": true, "debug": true,
}

// Keys that `override:` may name, and how (Falco >= 0.37).
var (
	overrideAppend  = map[string]bool{"condition": true, "output": true, "desc": true, "tags": true, "exceptions": true}
	overrideReplace = map[string]bool{
		"condition": true, "output": true, "desc": true, "priority": true, "capture": true, "capture_duration": true,
		"tags": true, "exceptions": true, "enabled": true, "warn_evttypes": true, "skip-if-unknown-filter": true,
	}
)

func (rs *ruleSet) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("Could not load rules file %s: %w", path, err)
	}
	return rs.load(path, b)
}

// itemText is the source of item i of a top-level list: its lines up to the
// next item's, without trailing blank lines.
func itemText(lines []string, items []*yaml.Node, i int) string {
	from, to := items[i].Line-1, len(lines)
	if i+1 < len(items) {
		to = items[i+1].Line - 1
	}
	if from < 0 || from >= to || to > len(lines) {
		return ""
	}
	return strings.TrimRight(strings.Join(lines[from:to], "\n"), "\n ")
}

func (rs *ruleSet) load(path string, b []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty or comments only: Falco accepts it
			return nil
		}
		yerr := "yaml: " + strings.TrimPrefix(err.Error(), "yaml: ")
		return &loadError{file: path, code: errParse, msg: "Could not load YAML file: " + yerr, newMsg: yerr}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil
	}
	if top.Kind != yaml.SequenceNode {
		return &loadError{file: path, code: errValidate, msg: "Rules content is not yaml array of objects"}
	}
	lines := strings.Split(string(b), "\n")
	for i, item := range top.Content {
		if err := rs.loadItem(item); err != nil {
			le, ok := err.(*loadError)
			if !ok {
				le = &loadError{code: errValidate, msg: err.Error()}
			}
			le.file, le.item = path, itemText(lines, top.Content, i)
			return le
		}
	}
	return nil
}

func (rs *ruleSet) loadItem(item *yaml.Node) error {
	if item.Kind != yaml.MappingNode {
		return &loadError{code: errValidate, msg: "Unexpected element type. Each element should be a yaml associative array."}
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(item.Content); i += 2 {
		keys[item.Content[i].Value] = item.Content[i+1]
	}
	switch {
	case keys["rule"] != nil:
		return rs.loadRule(item, keys)
	case keys["macro"] != nil:
		return rs.loadNamed(item, keys, "macro", "condition", rs.macros)
	case keys["list"] != nil:
		return rs.loadNamed(item, keys, "list", "items", rs.lists)
	default: // required_engine_version and the like; Falco also passes over unknown items
		return nil
	}
}

func (rs *ruleSet) loadNamed(item *yaml.Node, keys map[string]*yaml.Node, kind, body string, known map[string]bool) error {
	name := keys[kind].Value
	if name == "" {
		return &loadError{code: errValidate, msg: fmt.Sprintf("Mapping for key '%s' is empty", kind)}
	}
	if keys[body] == nil {
		return &loadError{code: errValidate, msg: fmt.Sprintf("Item has no mapping for key '%s'", body)}
	}
	if isTrue(keys["append"]) && !known[name] {
		return &loadError{code: errValidate, msg: fmt.Sprintf("%s has 'append' key but no %s by that name already exists", kind, kind)}
	}
	known[name] = true
	return nil
}

func (rs *ruleSet) loadRule(item *yaml.Node, keys map[string]*yaml.Node) error {
	name := keys["rule"].Value
	if name == "" {
		return &loadError{code: errValidate, msg: "Mapping for key 'rule' is empty"}
	}
	if out := keys["output"]; out != nil {
		if err := checkOutput(out.Value); err != nil {
			return &loadError{code: errOutput, msg: fmt.Sprintf("Invalid output format '%s': '%s'", firstLine(out.Value), err), newMsg: err.Error()}
		}
	}
	if p := keys["priority"]; p != nil && !priorities[strings.ToLower(p.Value)] {
		return &loadError{code: errValidate, msg: "Invalid priority"}
	}
	if ov := keys["override"]; ov != nil && rs.hasOverride() {
		return rs.loadOverride(item, keys, name, ov)
	}
	// Before 0.37 `override:` is an unknown key, passed over like any other.
	if isTrue(keys["append"]) {
		if !rs.rules[name] {
			return &loadError{code: errObjects, msg: "Rule has 'append' key but no rule by that name already exists"}
		}
		if keys["condition"] == nil && keys["exceptions"] == nil {
			return &loadError{code: errObjects, msg: "Appended rule must have exceptions or condition property"}
		}
		return nil
	}
	if keys["enabled"] != nil && len(keys) == 2 && rs.rules[name] {
		return nil // only toggling an existing rule
	}
	for _, k := range []string{"condition", "output", "desc", "priority"} {
		if keys[k] == nil {
			if newLoader(rs.version) {
				return &loadError{code: errValidate, msg: fmt.Sprintf("Item has no mapping for key '%s'", k)}
			}
			return &loadError{code: errValidate, msg: "Rule must have properties 'condition', 'output', 'desc', and 'priority'"}
		}
	}
	rs.rules[name] = true
	return nil
}

// hasOverride reports whether the version knows `override:` (0.37.0 on).
func (rs *ruleSet) hasOverride() bool {
	ok, err := atLeast(rs.version, "0.37.0")
	return err == nil && ok
}

func (rs *ruleSet) loadOverride(item *yaml.Node, keys map[string]*yaml.Node, name string, ov *yaml.Node) error {
	if isTrue(keys["append"]) {
		return &loadError{code: errValidate, msg: "Keys 'override' and 'append: true' cannot be used together"}
	}
	if ov.Kind != yaml.MappingNode {
		return &loadError{code: errValidate, msg: "Value of 'override' must be a map"}
	}
	// The rule must exist before anything else is checked (seen on 0.40.0).
	if !rs.rules[name] && len(ov.Content) >= 2 {
		return &loadError{code: errObjects, msg: fmt.Sprintf("An 'override.<key>: %s' to a rule was requested but no rule by that name already exists", ov.Content[1].Value)}
	}
	named := map[string]bool{}
	for i := 0; i+1 < len(ov.Content); i += 2 {
		k, how := ov.Content[i].Value, ov.Content[i+1].Value
		named[k] = true
		switch {
		case how == "append" && overrideAppend[k], how == "replace" && overrideReplace[k]:
		default:
			return &loadError{code: errValidate, msg: fmt.Sprintf("Key '%s' cannot be overridden with '%s'", k, how)}
		}
		if keys[k] == nil {
			return &loadError{code: errValidate, msg: fmt.Sprintf("An override is defined for '%s' but no value is given", k)}
		}
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		k := item.Content[i].Value
		if k != "rule" && k != "override" && !named[k] {
			return &loadError{code: errValidate, msg: fmt.Sprintf("Unexpected key '%s': an 'override' must name every key given", k)}
		}
	}
	if !rs.rules[name] {
		return &loadError{code: errValidate, msg: "An override is defined but no rule by that name already exists"}
	}
	return nil
}

func isTrue(n *yaml.Node) bool { return n != nil && n.Value == "true" }

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
