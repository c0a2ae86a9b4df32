package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// policyRepo makes a git repository at dir holding the exam's policy, on
// branch main, with the git CLI.
func policyRepo(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitserve.Git(t, dir, "init", "-q", "-b", "main")
	policy, err := os.ReadFile("../examples/cks-terminal-shell/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), policy, 0o644); err != nil {
		t.Fatal(err)
	}
	gitserve.Git(t, dir, "add", "policy.hcl")
	gitserve.Git(t, dir, "commit", "-q", "-m", "The exam's output for Terminal shell in container")
}

// serveGit serves the repository at dir with a real `git daemon` on
// 127.0.0.1 until the test ends, and returns its git:// URL.
func serveGit(t *testing.T, dir string) string {
	t.Helper()
	d := gitserve.StartDaemon(t, filepath.Dir(dir))
	return d.URL(filepath.Base(dir))
}
