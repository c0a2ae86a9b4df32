package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
)

// The lab's git server, checked on the host: a shallow clone, as rulekeeper
// fetches, gets the policy.
func TestPolicyGitServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policy")
	policyRepo(t, dir)
	url := serveGit(t, dir)
	clone := t.TempDir()
	if _, err := git.PlainClone(clone, false, &git.CloneOptions{URL: url, Depth: 1}); err != nil {
		t.Fatalf("clone %s: %v", url, err)
	}
	if _, err := os.Stat(filepath.Join(clone, "policy.hcl")); err != nil {
		t.Fatal(err)
	}
}
