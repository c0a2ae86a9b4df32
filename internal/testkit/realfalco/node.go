package realfalco

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Package is what the Falco package of a version leaves in /etc/falco: the
// upstream falco.yaml and falco_rules.yaml it ships (names of files in the
// testdata folder given to Node), and its falco_rules.local.yaml.
type Package struct {
	Config, Rules string
	Local         string // a testdata name, or "" for the one-line file packages since 0.34 generate
}

// Packages are the upstream files of each version in Versions.
var Packages = map[string]Package{
	"0.32.1": {Config: "falco-0.32.1.yaml", Rules: "falco_rules-0.32.1.yaml", Local: "falco_rules.local-0.32.1.yaml"},
	"0.40.0": {Config: "falco-0.40.0.yaml", Rules: "falco_rules-3.2.0.yaml"},
	"0.44.1": {Config: "falco-0.44.1.yaml", Rules: "falco_rules-5.1.0.yaml"},
}

// Node lays out a sandbox root holding /etc/falco as the package of a
// version leaves it, with an empty rules.d, from the upstream copies in
// testdata. On 0.44.1 its falco.yaml turns the container plugin on, by the
// absolute path of the build's plugin: falco-rules 5.x require it, and Falco
// loads it only through the config.
func Node(tb testing.TB, testdata, version string) string {
	tb.Helper()
	pkg, ok := Packages[version]
	if !ok {
		tb.Fatalf("no upstream files known for Falco %s", version)
	}
	root := tb.TempDir()
	etc := filepath.Join(root, "etc", "falco")
	if err := os.MkdirAll(filepath.Join(etc, "rules.d"), 0o755); err != nil {
		tb.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	local := []byte("# Your custom rules!\n")
	if pkg.Local != "" {
		local = read(pkg.Local)
	}
	cfg := read(pkg.Config)
	if version == "0.44.1" {
		cfg = withContainerPlugin(tb, cfg)
	}
	for name, b := range map[string][]byte{"falco.yaml": cfg, "falco_rules.yaml": read(pkg.Rules), "falco_rules.local.yaml": local} {
		if err := os.WriteFile(filepath.Join(etc, name), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

// withContainerPlugin edits the upstream 0.44.1 falco.yaml as an operator
// does: `load_plugins: [container]`, and the plugin's library_path made
// absolute (a relative one is looked up in /usr/share/falco/plugins).
func withContainerPlugin(tb testing.TB, cfg []byte) []byte {
	tb.Helper()
	lib := ContainerPlugin(tb)
	on := bytes.Replace(cfg, []byte("\nload_plugins: []\n"), []byte("\nload_plugins: [container]\n"), 1)
	on = bytes.Replace(on, []byte("library_path: libcontainer.so\n"), []byte("library_path: "+lib+"\n"), 1)
	if bytes.Count(on, []byte("load_plugins: [container]")) != 1 || bytes.Count(on, []byte(lib)) != 1 {
		tb.Fatal("falco-0.44.1.yaml no longer has `load_plugins: []` and the container plugin's `library_path: libcontainer.so`")
	}
	return on
}

// RulesArgs are the -r flags for what the upstream falco.yaml lists, under
// a sandbox root: falco_rules.yaml, falco_rules.local.yaml, then rules.d.
// (The config's own list names /etc/falco, outside the sandbox.)
func RulesArgs(root string) []string {
	etc := filepath.Join(root, "etc", "falco")
	return []string{"-r", filepath.Join(etc, "falco_rules.yaml"), "-r", filepath.Join(etc, "falco_rules.local.yaml"),
		"-r", filepath.Join(etc, "rules.d")}
}
