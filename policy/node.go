package policy

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Node holds the facts a policy's expressions see as `node.*`.
type Node struct {
	Hostname string            // node.hostname
	OS       string            // node.os, the ID of os-release ("debian")
	Labels   map[string]string // node.labels
	// FalcoVersion is node.falco_version: the version the node's Falco
	// reports, "" when unknown. It also picks the field catalogue.
	FalcoVersion string

	// unknown marks a node whose empty facts are unknown rather than empty.
	unknown bool
}

// UnknownNode is the node of `rulekeeper validate` in a policy repository's
// CI: there is no node, so every fact left empty (and Labels when nil) is an
// unknown value. Expressions over unknown facts still type-check, and
// everything that does not depend on them is checked as on a real node. The
// caller may set FalcoVersion (or other facts) on the result to make them known.
func UnknownNode(labels map[string]string) Node {
	return Node{Labels: labels, unknown: true}
}

func (n Node) value() cty.Value {
	str := func(s string) cty.Value {
		if n.unknown && s == "" {
			return cty.UnknownVal(cty.String)
		}
		return cty.StringVal(s)
	}
	labels := cty.MapValEmpty(cty.String)
	switch {
	case n.unknown && n.Labels == nil:
		labels = cty.UnknownVal(cty.Map(cty.String))
	case len(n.Labels) > 0:
		m := make(map[string]cty.Value, len(n.Labels))
		for k, v := range n.Labels {
			m[k] = cty.StringVal(v)
		}
		labels = cty.MapVal(m)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"hostname":      str(n.Hostname),
		"os":            str(n.OS),
		"labels":        labels,
		"falco_version": str(n.FalcoVersion),
	})
}

// evalContext gives expressions the node and a small set of functions, enough
// to branch on facts (labels that may be missing included, with try/lookup).
func (n Node) evalContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"node": n.value()},
		Functions: map[string]function.Function{
			"can":        tryfunc.CanFunc,
			"coalesce":   stdlib.CoalesceFunc,
			"concat":     stdlib.ConcatFunc,
			"contains":   stdlib.ContainsFunc,
			"endswith":   endsWithFunc,
			"format":     stdlib.FormatFunc,
			"join":       stdlib.JoinFunc,
			"keys":       stdlib.KeysFunc,
			"length":     stdlib.LengthFunc,
			"lookup":     stdlib.LookupFunc,
			"lower":      stdlib.LowerFunc,
			"regex":      stdlib.RegexFunc,
			"regexall":   stdlib.RegexAllFunc,
			"replace":    stdlib.ReplaceFunc,
			"split":      stdlib.SplitFunc,
			"startswith": startsWithFunc,
			"trimspace":  stdlib.TrimSpaceFunc,
			"try":        tryfunc.TryFunc,
			"upper":      stdlib.UpperFunc,
		},
	}
}

// go-cty's stdlib has no startswith/endswith; these follow Terraform's.
var startsWithFunc = stringPredicate(func(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }, "prefix")
var endsWithFunc = stringPredicate(func(s, p string) bool { return len(s) >= len(p) && s[len(s)-len(p):] == p }, "suffix")

func stringPredicate(f func(s, p string) bool, argName string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: "str", Type: cty.String},
			{Name: argName, Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}
