package agent

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rulekeeper/rulekeeper/policy"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// Falco is what the node tells of its Falco.
type Falco struct {
	Binary  string // "" when the node has none
	Version string // "" when unknown
	Note    string // why either is missing
}

// FindFalco looks the falco program up ("falco" on PATH unless a path is
// given) and asks its version.
func FindFalco(name string) Falco {
	if name == "" || name == "none" {
		return Falco{Note: "falco checks turned off"}
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return Falco{Note: "no falco binary found (" + name + ")"}
	}
	v, err := reconcile.FalcoVersion(bin)
	if err != nil {
		return Falco{Binary: bin, Note: err.Error()}
	}
	return Falco{Binary: bin, Version: v}
}

// Facts gathers the node facts a policy sees. Labels come from the caller
// (flags or the agent config); the OS is the ID in the root's os-release.
func Facts(root, hostname string, labels map[string]string, falcoVersion string) policy.Node {
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	if labels == nil {
		labels = map[string]string{}
	}
	return policy.Node{Hostname: hostname, OS: osID(root), Labels: labels, FalcoVersion: falcoVersion}
}

func osID(root string) string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		f, err := os.Open(filepath.Join(root, p))
		if err != nil {
			continue
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "ID="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return "linux"
}
