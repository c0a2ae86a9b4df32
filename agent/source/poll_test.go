package source

import (
	"context"
	"path/filepath"
	"testing"
)

// A caller that declines a new head costs the server no pack: the Sync lists the refs, returns the
// last commit fetched with the head it left (Ahead), and a new node fetches whatever it is told.
func TestPollLeavesTheHeadOnTheServer(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	srv := startHTTP(t, u.Root, "bot", "pw")
	pw := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pw, "pw\n")
	s, _ := newSource(t, Config{URL: srv.URL + "/policy.git", Auth: Auth{Username: "bot", PasswordFile: pw}})
	no := Poll{Fetch: func(string) bool { return false }}
	ctx := context.Background()

	// Nothing fetched yet: the clone holds no commit of the branch, so Fetch is not asked.
	rev, changed, err := s.SyncWith(ctx, no)
	if err != nil || !changed || rev.Commit != c1 || rev.Ahead != "" || srv.Packs.Load() != 1 {
		t.Fatalf("first sync: changed=%v rev=%+v err=%v, %d packs", changed, rev, err, srv.Packs.Load())
	}

	c2 := u.Commit("second", map[string]string{"policy.hcl": policyV2})
	var asked []string
	rev, changed, err = s.SyncWith(ctx, Poll{Fetch: func(h string) bool { asked = append(asked, h); return false }})
	if err != nil || changed || rev.Commit != c1 || rev.Ahead != c2 || readPolicy(t, rev) != policyV1 {
		t.Fatalf("declined head: changed=%v rev=%+v err=%v", changed, rev, err)
	}
	if len(asked) != 1 || asked[0] != c2 || srv.Packs.Load() != 1 {
		t.Fatalf("Fetch asked about %v; %d upload-pack requests, want the first clone's alone", asked, srv.Packs.Load())
	}

	// Accepted: fetched and checked out; Ahead is empty since the commit is the head.
	rev, changed, err = s.SyncWith(ctx, Poll{Fetch: func(string) bool { return true }})
	if err != nil || !changed || rev.Commit != c2 || rev.Ahead != "" || readPolicy(t, rev) != policyV2 || srv.Packs.Load() != 2 {
		t.Fatalf("accepted head: changed=%v rev=%+v err=%v, %d packs", changed, rev, err, srv.Packs.Load())
	}
	// The head fetched: Fetch is not asked again.
	rev, changed, err = s.SyncWith(ctx, Poll{Fetch: func(string) bool { t.Error("Fetch asked about a head the clone holds"); return false }})
	if err != nil || changed || rev.Commit != c2 || rev.Ahead != "" {
		t.Fatalf("no change: changed=%v rev=%+v err=%v", changed, rev, err)
	}
}

// With a Base, a new checkout is told rewritten against the commit the caller runs, not the last
// checkout: a head that replaces a held (never run) commit but descends from the base is not a
// rewrite; one that drops the base is, naming it.
func TestPollTellsRewritesAgainstTheBase(t *testing.T) {
	u := newUpstream(t)
	base := u.Commit("run", map[string]string{"policy.hcl": policyV1})
	d := startGitDaemon(t, u.Root)
	s, _ := newSource(t, Config{URL: d.URL("policy.git")})
	ctx := context.Background()
	mustSync(t, s)

	held := u.Commit("held", map[string]string{"policy.hcl": policyV2})
	if rev, _, err := s.SyncWith(ctx, Poll{Base: base}); err != nil || rev.Commit != held || rev.Rewritten || rev.Previous != base {
		t.Fatalf("fast-forward: %+v %v", rev, err)
	}
	// held is dropped, the new head still descends from base.
	gitRun(t, u.Work, "reset", "-q", "--hard", base)
	onBase := u.Commit("on base", map[string]string{"policy.hcl": "# on base\n"})
	if rev, _, err := s.SyncWith(ctx, Poll{Base: base}); err != nil || rev.Commit != onBase || rev.Rewritten {
		t.Fatalf("a head on the base reported rewritten: %+v %v", rev, err)
	}
	// base itself is dropped.
	gitRun(t, u.Work, "checkout", "-q", "--orphan", "fresh")
	gone := u.Commit("history replaced", map[string]string{"policy.hcl": "# replaced\n"})
	u.Git("push", "-q", "--force", "origin", "HEAD:refs/heads/main")
	if rev, _, err := s.SyncWith(ctx, Poll{Base: base}); err != nil || rev.Commit != gone || !rev.Rewritten || rev.Previous != base {
		t.Fatalf("a head that drops the base: %+v %v", rev, err)
	}
}
