package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rulekeeper/rulekeeper/agent"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// labels is a repeatable --label key=value flag.
type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	l[k] = v
	return nil
}

// nodeFlags are the flags of every command that works on a node.
type nodeFlags struct {
	policy   string
	root     string
	stateDir string
	falco    string
	hostname string
	labels   labels
	json     bool
}

func (n *nodeFlags) register(fs *flag.FlagSet) {
	n.labels = labels{}
	fs.StringVar(&n.policy, "policy", ".", "directory holding the policy's *.hcl files")
	fs.StringVar(&n.root, "root", "/", "treat this directory as the node's / (a sandbox copy of a node)")
	fs.StringVar(&n.stateDir, "state-dir", reconcile.DefaultStateDir, "where rulekeeper keeps originals and its lock (under --root)")
	fs.StringVar(&n.falco, "falco", "falco", `falco program for "falco -V" checks and its version; "none" to skip`)
	fs.StringVar(&n.hostname, "hostname", "", "node.hostname (default: this machine's)")
	fs.Var(n.labels, "label", "node label key=value for policy expressions (repeatable)")
	fs.BoolVar(&n.json, "json", false, "print JSON")
}

// input turns the flags into one pass's input.
func (n *nodeFlags) input(apply bool) (agent.Input, agent.Falco) {
	f := agent.FindFalco(n.falco)
	return agent.Input{
		PolicyDir: n.policy,
		Node:      agent.Facts(n.root, n.hostname, n.labels, f.Version),
		Reconcile: reconcile.Options{Root: n.root, StateDir: n.stateDir, FalcoBinary: f.Binary, FalcoVersion: f.Version},
		Apply:     apply,
	}, f
}

// parse lets flags and positional arguments come in any order.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, bool) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			return pos, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
