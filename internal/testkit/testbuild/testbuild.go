// Package testbuild builds rulekeeper's programs for the tests that run them
// as processes, the way the packages build them (static: CGO_ENABLED=0).
package testbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Programs builds rulekeeper and rulekeeperd (which `rulekeeper run`
// becomes) into a temporary directory and returns rulekeeper's path.
func Programs(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(build(tb, "github.com/rulekeeper/rulekeeper", "github.com/rulekeeper/rulekeeper/cmd/rulekeeperd"), "rulekeeper")
}

// Daemon builds rulekeeperd alone (one link instead of two, for the tests
// that run only the daemon) and returns its path.
func Daemon(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(build(tb, "github.com/rulekeeper/rulekeeper/cmd/rulekeeperd"), "rulekeeperd")
}

// build builds the packages into a temporary directory and returns it.
func build(tb testing.TB, pkgs ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}
