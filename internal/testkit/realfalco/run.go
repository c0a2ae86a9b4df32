package realfalco

import (
	"bytes"
	"os/exec"
	"testing"
)

// Run runs a Falco program and returns what it printed and its exit code;
// it fails the test only when the program cannot be started.
func Run(tb testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("running %s: %v", bin, err)
	}
	return o.String(), e.String(), 0
}

// Replay has a real Falco of a version replay a capture file through the
// given rules (-r flags) with a config, and returns its alerts (stdout). A
// Falco that exits non-zero fails the test with what it said.
func Replay(tb testing.TB, version, config, capture string, rules ...string) string {
	tb.Helper()
	args := append([]string{"-c", config}, rules...)
	if version == "0.32.1" {
		args = append(args, "-e", capture)
	} else { // -e is gone from 0.38
		args = append(args, "-o", "engine.kind=replay", "-o", "engine.replay.capture_file="+capture)
	}
	out, errOut, code := Run(tb, Binary(tb, version), args...)
	if code != 0 {
		tb.Fatalf("Falco %s replaying %s: exit %d\n%s%s", version, capture, code, out, errOut)
	}
	return out
}
