package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(cfg, []byte("drift { mode = \"fix\" }\n"), 0o644)
	var errs bytes.Buffer
	code := run([]string{"--config", cfg, "--root", t.TempDir()}, &errs)
	if code != 1 || !strings.Contains(errs.String(), "No policy source") || !strings.Contains(errs.String(), "the daemon did not start") {
		t.Fatalf("exit %d\n%s", code, errs.String())
	}
}

func TestExtraArguments(t *testing.T) {
	var errs bytes.Buffer
	if code := run([]string{"now"}, &errs); code != 1 || !strings.Contains(errs.String(), "usage: rulekeeper run") {
		t.Fatalf("exit %d\n%s", code, errs.String())
	}
}
