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

// loadError is a file that Falco would refuse, worded like Falco's rule loader.
type loadError struct {
	file string
	line int
	msg  string
}

func (e *loadError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("Could not load rules file %s: 1 errors:\n%s (line %d)", e.file, e.msg, e.line)
	}
	return fmt.Sprintf("Could not load rules file %s: 1 errors:\n%s", e.file, e.msg)
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

func (rs *ruleSet) load(path string, b []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty or comments only: Falco accepts it
			return nil
		}
		return &loadError{file: path, msg: "Could not parse YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil
	}
	if top.Kind != yaml.SequenceNode {
		return &loadError{file: path, line: top.Line, msg: "Rules content is not yaml array of objects"}
	}
	for _, item := range top.Content {
		if err := rs.loadItem(item); err != nil {
			var le *loadError
			if errors.As(err, &le) {
				le.file = path
				return le
			}
			return &loadError{file: path, line: item.Line, msg: err.Error()}
		}
	}
	return nil
}

func (rs *ruleSet) loadItem(item *yaml.Node) error {
	if item.Kind != yaml.MappingNode {
		return &loadError{line: item.Line, msg: "Unexpected element type. Each element should be a yaml associative array."}
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
	case keys["required_engine_version"] != nil, keys["required_plugin_versions"] != nil:
		return nil
	default:
		return &loadError{line: item.Line, msg: "Unknown top level object"}
	}
}

func (rs *ruleSet) loadNamed(item *yaml.Node, keys map[string]*yaml.Node, kind, body string, known map[string]bool) error {
	name := keys[kind].Value
	if name == "" {
		return &loadError{line: item.Line, msg: fmt.Sprintf("Mapping for key '%s' is empty", kind)}
	}
	if keys[body] == nil {
		return &loadError{line: item.Line, msg: fmt.Sprintf("Item has no mapping for key '%s'", body)}
	}
	if isTrue(keys["append"]) && !known[name] {
		return &loadError{line: item.Line, msg: fmt.Sprintf("%s has 'append' key but no %s by that name already exists", kind, kind)}
	}
	known[name] = true
	return nil
}

func (rs *ruleSet) loadRule(item *yaml.Node, keys map[string]*yaml.Node) error {
	name := keys["rule"].Value
	if name == "" {
		return &loadError{line: item.Line, msg: "Mapping for key 'rule' is empty"}
	}
	if out := keys["output"]; out != nil {
		if err := checkOutput(out.Value); err != nil {
			return &loadError{line: out.Line, msg: fmt.Sprintf("Invalid output format '%s': '%s'", firstLine(out.Value), err)}
		}
	}
	if p := keys["priority"]; p != nil && !priorities[strings.ToLower(p.Value)] {
		return &loadError{line: p.Line, msg: fmt.Sprintf("Invalid priority '%s'", p.Value)}
	}
	if ov := keys["override"]; ov != nil {
		return rs.loadOverride(item, keys, name, ov)
	}
	if isTrue(keys["append"]) {
		if !rs.rules[name] {
			return &loadError{line: item.Line, msg: "Rule has 'append' key but no rule by that name already exists"}
		}
		if keys["condition"] == nil && keys["exceptions"] == nil {
			return &loadError{line: item.Line, msg: "Appended rule must have exceptions or condition property"}
		}
		return nil
	}
	if keys["enabled"] != nil && len(keys) == 2 && rs.rules[name] {
		return nil // only toggling an existing rule
	}
	for _, k := range []string{"condition", "output", "desc", "priority"} {
		if keys[k] == nil {
			return &loadError{line: item.Line, msg: fmt.Sprintf("Rule must have property %s", k)}
		}
	}
	rs.rules[name] = true
	return nil
}

func (rs *ruleSet) loadOverride(item *yaml.Node, keys map[string]*yaml.Node, name string, ov *yaml.Node) error {
	ok, err := atLeast(rs.version, "0.37.0")
	if err != nil {
		return err
	}
	if !ok {
		return &loadError{line: ov.Line, msg: fmt.Sprintf("Unexpected key 'override': not supported by Falco %s (needs 0.37.0)", rs.version)}
	}
	if isTrue(keys["append"]) {
		return &loadError{line: item.Line, msg: "Keys 'override' and 'append: true' cannot be used together"}
	}
	if ov.Kind != yaml.MappingNode {
		return &loadError{line: ov.Line, msg: "Value of 'override' must be a map"}
	}
	named := map[string]bool{}
	for i := 0; i+1 < len(ov.Content); i += 2 {
		k, how := ov.Content[i].Value, ov.Content[i+1].Value
		named[k] = true
		switch {
		case how == "append" && overrideAppend[k], how == "replace" && overrideReplace[k]:
		default:
			return &loadError{line: ov.Content[i].Line, msg: fmt.Sprintf("Key '%s' cannot be overridden with '%s'", k, how)}
		}
		if keys[k] == nil {
			return &loadError{line: ov.Content[i].Line, msg: fmt.Sprintf("An override is defined for '%s' but no value is given", k)}
		}
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		k := item.Content[i].Value
		if k != "rule" && k != "override" && !named[k] {
			return &loadError{line: item.Content[i].Line, msg: fmt.Sprintf("Unexpected key '%s': an 'override' must name every key given", k)}
		}
	}
	if !rs.rules[name] {
		return &loadError{line: item.Line, msg: "An override is defined but no rule by that name already exists"}
	}
	return nil
}

func isTrue(n *yaml.Node) bool { return n != nil && n.Value == "true" }

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
