// Package realfalco finds the real Falco builds the real-Falco test tier
// runs. The folder is given by RULEKEEPER_FALCO_DIR and holds one folder per
// version (0.32.1/falco, 0.40.0/falco, 0.44.1/falco with
// plugins/libcontainer.so), each a real Falco built from its upstream tag and
// runnable on this machine. A test that asks for one fails, never skips,
// when the variable is unset or the build cannot run: a missing Falco must
// not pass for a working one.
package realfalco

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env names the folder of the real Falco builds.
const Env = "RULEKEEPER_FALCO_DIR"

// Versions are the builds the tier uses: the exam's Falco, the last that
// loads every file of a rules folder (with override: and nodriver), and the
// newest (with its container plugin).
var Versions = []string{"0.32.1", "0.40.0", "0.44.1"}

// Dir returns the folder of the builds, failing the test when it is not set.
func Dir(tb testing.TB) string {
	tb.Helper()
	d := os.Getenv(Env)
	if d == "" {
		tb.Fatalf("%s is not set: point it at a folder of real Falco builds (0.32.1/falco, 0.40.0/falco, 0.44.1/falco); "+
			"scripts/test.sh sets it to ../shared/falco. See README.md, \"Tests\"", Env)
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		tb.Fatal(err)
	}
	return abs
}

// Binary returns the falco program of a version after checking that it runs
// and reports that version.
func Binary(tb testing.TB, version string) string {
	tb.Helper()
	bin := filepath.Join(Dir(tb), version, "falco")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		tb.Fatalf("real Falco %s at %s does not run: %v\n%s\n(on Debian 12 its runtime packages are: %s)",
			version, bin, err, out, strings.Join(RuntimePackages, " "))
	}
	if !strings.Contains(string(out), "Falco version: "+version) {
		tb.Fatalf("%s --version does not say Falco %s:\n%s", bin, version, out)
	}
	return bin
}

// ContainerPlugin is the container plugin 0.44.1 needs for falco-rules 5.x.
func ContainerPlugin(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(Dir(tb), "0.44.1", "plugins", "libcontainer.so")
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("the container plugin of Falco 0.44.1 is missing: %v", err)
	}
	return p
}

// RuntimePackages are the Debian 12 packages the builds link against.
var RuntimePackages = []string{
	"libgrpc++1.51", "libprotobuf32", "libc-ares2", "libcurl4", "libelf1",
	"libtbb12", "libre2-9", "libssl3", "libjq1", "libjsoncpp25",
}
