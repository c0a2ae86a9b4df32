package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// `rulekeeper fleet` without rulekeeperd beside it says what to install
// (the process test is fleet's TestFleetView/process).
func TestFleetWithoutAgent(t *testing.T) {
	code, _, errs := rk("fleet", "--prometheus", "http://127.0.0.1:9")
	if code != exitError || !strings.Contains(errs, "rulekeeper fleet starts") || !strings.Contains(errs, "go build") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
}

// The command line links no HTTP code, so plan and apply do not pay its
// start-up: `rulekeeper fleet` and `run` hand over to rulekeeperd.
func TestCommandLineWithoutHTTP(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, heavy := range []string{"net/http", "github.com/prometheus/client_golang/prometheus", "github.com/go-git/go-git/v5"} {
		if slices.Contains(deps, heavy) {
			t.Errorf("rulekeeper links %s: keep it in rulekeeperd", heavy)
		}
	}
}
