package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const policyV1 = "rule \"Terminal shell in container\" {}\n"
const policyV2 = "rule \"Terminal shell in container\" { priority = \"NOTICE\" }\n"

// newSource makes a Source over cfg with its logs captured.
func newSource(t *testing.T, cfg Config) (*Source, *syncBuffer) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	logs := &syncBuffer{}
	s, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, logs
}

func mustSync(t *testing.T, s *Source) (Revision, bool) {
	t.Helper()
	rev, changed, err := s.Sync(context.Background())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return rev, changed
}

// wantFault checks that err is a *Fault of kind k and returns it.
func wantFault(t *testing.T, err error, k Kind) *Fault {
	t.Helper()
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("want a *Fault of kind %s, got %T %v", k, err, err)
	}
	if f.Kind != k {
		t.Fatalf("want kind %s, got %s: %v", k, f.Kind, f)
	}
	return f
}

func readPolicy(t *testing.T, rev Revision) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rev.Dir, "policy.hcl"))
	if err != nil {
		t.Fatalf("checkout of %s: %v", rev.Commit, err)
	}
	return string(b)
}

func checkoutNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "checkouts"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestBranchOverGitDaemon(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"fleet/policy.hcl": policyV1, "README.md": "not policy\n"})
	d := startGitDaemon(t, u.Root)
	dir := t.TempDir()
	s, logs := newSource(t, Config{URL: d.URL("policy.git"), Branch: "main", Path: "fleet", Dir: dir})

	rev, changed := mustSync(t, s)
	if !changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
		t.Fatalf("first sync: changed=%v rev=%+v", changed, rev)
	}
	if _, err := os.Stat(filepath.Join(rev.Dir, "README.md")); !os.IsNotExist(err) {
		t.Errorf("files outside path were checked out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "shallow")); err != nil {
		t.Errorf("first fetch is not shallow: %v", err)
	}
	before, _ := os.Stat(rev.Dir)

	// A poll that finds the same commit checks nothing out.
	again, changed := mustSync(t, s)
	if changed || again.Commit != c1 || again.Dir != rev.Dir {
		t.Fatalf("unchanged poll: changed=%v rev=%+v", changed, again)
	}
	after, _ := os.Stat(again.Dir)
	if !os.SameFile(before, after) {
		t.Error("unchanged poll replaced the checkout")
	}

	c2 := u.Commit("second", map[string]string{"fleet/policy.hcl": policyV2})
	rev2, changed := mustSync(t, s)
	if !changed || rev2.Commit != c2 || readPolicy(t, rev2) != policyV2 || rev2.Rewritten || rev2.Previous != c1 {
		t.Fatalf("after a new commit: changed=%v rev=%+v", changed, rev2)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "repo", "shallow")); strings.Count(string(b), "\n") > 1 {
		t.Errorf("shallow list grows with each fetch:\n%s", b)
	}
	if names := checkoutNames(t, dir); len(names) != 1 || names[0] != c2 {
		t.Errorf("old checkouts not removed: %v", names)
	}
	if strings.Contains(logs.String(), "history rewritten") {
		t.Errorf("fast-forward reported as rewritten:\n%s", logs)
	}

	// A restarted agent finds its checkout and does not check it out again.
	s2, _ := newSource(t, Config{URL: d.URL("policy.git"), Branch: "main", Path: "fleet", Dir: dir})
	rev3, changed := mustSync(t, s2)
	if changed || rev3.Commit != c2 {
		t.Fatalf("after restart: changed=%v rev=%+v", changed, rev3)
	}
}

func TestForcePushIsFollowedAndReported(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	c2 := u.Commit("second", map[string]string{"policy.hcl": policyV2})
	d := startGitDaemon(t, u.Root)
	s, logs := newSource(t, Config{URL: d.URL("policy.git")})
	if rev, _ := mustSync(t, s); rev.Commit != c2 {
		t.Fatalf("got %s, want %s", rev.Commit, c2)
	}

	gitRun(t, u.Work, "reset", "-q", "--hard", c1)
	c3 := u.Commit("rewritten", map[string]string{"policy.hcl": "# rewritten\n"})
	rev, changed := mustSync(t, s)
	if !changed || rev.Commit != c3 || !rev.Rewritten || rev.Previous != c2 || readPolicy(t, rev) != "# rewritten\n" {
		t.Fatalf("after force-push: changed=%v rev=%+v", changed, rev)
	}
	if n := strings.Count(logs.String(), "history rewritten"); n != 1 {
		t.Errorf("want one history-rewritten line, got %d:\n%s", n, logs)
	}
	// The next ordinary commit is a fast-forward again.
	c4 := u.Commit("after", map[string]string{"policy.hcl": policyV1})
	if rev, _ := mustSync(t, s); rev.Commit != c4 || rev.Rewritten {
		t.Fatalf("after a fast-forward: %+v", rev)
	}
}

func TestBranchDeletedKeepsLastRevision(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	d := startGitDaemon(t, u.Root)
	s, _ := newSource(t, Config{URL: d.URL("policy.git"), Branch: "main"})
	good, _ := mustSync(t, s)

	gitRun(t, u.Bare, "update-ref", "-d", "refs/heads/main")
	rev, changed, err := s.Sync(context.Background())
	f := wantFault(t, err, KindRefNotFound)
	if !strings.Contains(f.Error(), "branch main") {
		t.Errorf("fault does not name the branch: %v", f)
	}
	if changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 || rev.Dir != good.Dir {
		t.Fatalf("last revision not kept: changed=%v rev=%+v", changed, rev)
	}

	c2 := u.Commit("back", map[string]string{"policy.hcl": policyV2})
	if rev, _ := mustSync(t, s); rev.Commit != c2 {
		t.Fatalf("not recovered: %+v", rev)
	}
}

func TestTagAndPinnedCommit(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	gitRun(t, u.Work, "tag", "-a", "-m", "release", "v1")
	gitRun(t, u.Work, "push", "-q", "origin", "v1")
	c2 := u.Commit("second", map[string]string{"policy.hcl": policyV2})
	d := startGitDaemon(t, u.Root)

	tag, _ := newSource(t, Config{URL: d.URL("policy.git"), Tag: "v1"})
	if rev, changed := mustSync(t, tag); !changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
		t.Fatalf("tag: changed=%v rev=%+v", changed, rev)
	}
	if _, changed := mustSync(t, tag); changed {
		t.Fatal("unchanged tag checked out again")
	}
	// A tag moved to another commit is followed.
	gitRun(t, u.Work, "tag", "-f", "-a", "-m", "moved", "v1", c2)
	gitRun(t, u.Work, "push", "-q", "-f", "origin", "v1")
	if rev, changed := mustSync(t, tag); !changed || rev.Commit != c2 {
		t.Fatalf("moved tag: changed=%v rev=%+v", changed, rev)
	}

	missingTag, _ := newSource(t, Config{URL: d.URL("policy.git"), Tag: "v9"})
	_, _, err := missingTag.Sync(context.Background())
	wantFault(t, err, KindRefNotFound)

	pin, _ := newSource(t, Config{URL: d.URL("policy.git"), Commit: c1})
	if rev, changed := mustSync(t, pin); !changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
		t.Fatalf("pinned: changed=%v rev=%+v", changed, rev)
	}
	// A pinned commit needs no server once fetched.
	d.Stop()
	if rev, changed := mustSync(t, pin); changed || rev.Commit != c1 {
		t.Fatalf("pinned, server down: changed=%v rev=%+v", changed, rev)
	}
	d.Start()

	unknown := strings.Repeat("ab", 20)
	bad, _ := newSource(t, Config{URL: d.URL("policy.git"), Commit: unknown})
	_, _, err = bad.Sync(context.Background())
	if f := wantFault(t, err, KindRefNotFound); f.Commit != unknown {
		t.Errorf("fault does not name the commit: %+v", f)
	}
}

func TestMissingPathIsAConfigFault(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	s, _ := newSource(t, Config{URL: u.Bare, Path: "fleet"})
	_, _, err := s.Sync(context.Background())
	f := wantFault(t, err, KindConfig)
	if f.Commit != c1 || !strings.Contains(f.Error(), `"fleet" does not exist`) {
		t.Errorf("fault: %v", f)
	}
}

func TestCorruptCloneIsRecloned(t *testing.T) {
	u := newUpstream(t)
	u.Commit("first", map[string]string{"policy.hcl": policyV1})
	d := startGitDaemon(t, u.Root)
	dir := t.TempDir()
	s, logs := newSource(t, Config{URL: d.URL("policy.git"), Dir: dir})
	mustSync(t, s)
	objects := filepath.Join(dir, "repo", "objects")

	// Object files deleted, no new commit: the last revision is still served.
	removeObjects(t, objects)
	if rev, changed := mustSync(t, s); changed || readPolicy(t, rev) != policyV1 {
		t.Fatalf("after deleting objects: changed=%v rev=%+v", changed, rev)
	}

	// Object files deleted, then a new commit.
	removeObjects(t, objects)
	c2 := u.Commit("second", map[string]string{"policy.hcl": policyV2})
	if rev, changed := mustSync(t, s); !changed || rev.Commit != c2 || readPolicy(t, rev) != policyV2 {
		t.Fatalf("after deleting objects and a commit: changed=%v rev=%+v", changed, rev)
	}

	// Pack files overwritten with garbage: detected, re-cloned.
	garbleObjects(t, objects)
	c3 := u.Commit("third", map[string]string{"policy.hcl": policyV1})
	if rev, changed := mustSync(t, s); !changed || rev.Commit != c3 || readPolicy(t, rev) != policyV1 {
		t.Fatalf("after garbling objects: changed=%v rev=%+v\n%s", changed, rev, logs)
	}
	if !strings.Contains(logs.String(), "re-cloning") {
		t.Errorf("re-clone not logged:\n%s", logs)
	}
}

func objectFiles(t *testing.T, objects string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(objects, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.Contains(p, "/info/") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no object files under %s: %v", objects, err)
	}
	return files
}

func removeObjects(t *testing.T, objects string) {
	for _, f := range objectFiles(t, objects) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
}

func garbleObjects(t *testing.T, objects string) {
	for _, f := range objectFiles(t, objects) {
		if err := os.WriteFile(f, bytes.Repeat([]byte("garbage!"), 64), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnreachableServerRecovers(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	d := startGitDaemon(t, u.Root)
	s, _ := newSource(t, Config{URL: d.URL("policy.git")})
	mustSync(t, s)

	d.Stop()
	c2 := u.Commit("second", map[string]string{"policy.hcl": policyV2})
	var b Backoff
	var reports int
	for range 3 {
		rev, changed, err := s.Sync(context.Background())
		wantFault(t, err, KindUnreachable)
		if changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
			t.Fatalf("last revision not kept: changed=%v rev=%+v", changed, rev)
		}
		if _, report := b.Failed(err); report {
			reports++
		}
	}
	if reports != 1 {
		t.Errorf("want one report for three equal faults, got %d", reports)
	}

	d.Start() // same port
	rev, changed := mustSync(t, s)
	if !changed || rev.Commit != c2 {
		t.Fatalf("not recovered: changed=%v rev=%+v", changed, rev)
	}
	if !b.Succeeded() {
		t.Error("Succeeded does not report the recovery")
	}
}

// A git:// server that reads the request and closes the connection
// without a word (a server that drops what it cannot serve): the fault
// says so and where to look, not only go-git's "timeout exceeded".
func TestGitServerClosingWithoutAnswer(t *testing.T) {
	t.Parallel()
	url := brokenGitServer(t, func(c *net.TCPConn) {
		// The whole request (one pkt-line) read first: then the close
		// is a clean one (a FIN), not a reset for data left unread.
		var n [4]byte
		if _, err := io.ReadFull(c, n[:]); err == nil {
			size, _ := strconv.ParseUint(string(n[:]), 16, 16)
			_, _ = io.CopyN(io.Discard, c, int64(size)-4)
		}
		c.Close()
	})
	s, _ := newSource(t, Config{URL: url})
	_, _, err := s.Sync(context.Background())
	wantFault(t, err, KindUnreachable)
	if !strings.Contains(err.Error(), "closed the connection without answering") {
		t.Errorf("fault %q does not say the server closed the connection without answering", err)
	}
}

func TestLocalPathAndFileURL(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	for _, url := range []string{u.Bare, "file://" + u.Bare} {
		s, _ := newSource(t, Config{URL: url})
		if rev, changed := mustSync(t, s); !changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
			t.Errorf("%s: changed=%v rev=%+v", url, changed, rev)
		}
	}
}

func TestLeftoversOfACrashAreCleared(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	dir := t.TempDir()
	s, _ := newSource(t, Config{URL: u.Bare, Dir: dir})
	mustSync(t, s)
	// An export cut short, and an older checkout not yet removed.
	stale := []string{".tmp-" + c1 + "-123", strings.Repeat("0", 40)}
	for _, name := range stale {
		if err := os.MkdirAll(filepath.Join(dir, "checkouts", name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s2, _ := newSource(t, Config{URL: u.Bare, Dir: dir})
	rev, changed := mustSync(t, s2)
	if !changed || rev.Commit != c1 {
		t.Errorf("with two checkouts on disk the last one is unknown, want changed: changed=%v rev=%+v", changed, rev)
	}
	if names := checkoutNames(t, dir); len(names) != 1 || names[0] != c1 {
		t.Errorf("leftovers not removed: %v", names)
	}
}

// The shallow clone lacks the history before its first commit; a later commit that brings back
// an old file must still arrive whole, without a re-clone.
func TestRevertToContentOlderThanTheShallowClone(t *testing.T) {
	u := newUpstream(t)
	u.Commit("first", map[string]string{"policy.hcl": policyV1})
	u.Commit("second", map[string]string{"policy.hcl": policyV2})
	d := startGitDaemon(t, u.Root)
	s, logs := newSource(t, Config{URL: d.URL("policy.git")})
	mustSync(t, s)
	u.Commit("third", map[string]string{"policy.hcl": "# three\n"})
	c4 := u.Commit("revert to first", map[string]string{"policy.hcl": policyV1})
	rev, changed := mustSync(t, s)
	if !changed || rev.Commit != c4 || readPolicy(t, rev) != policyV1 || rev.Rewritten {
		t.Fatalf("changed=%v rev=%+v", changed, rev)
	}
	if strings.Contains(logs.String(), "re-clon") {
		t.Errorf("needed a re-clone:\n%s", logs)
	}
}

// The most common force-push: the last commit is dropped, the branch goes back to its parent,
// which the shallow clone never fetched.
func TestForcePushBackToParent(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1, "other.hcl": "# other\n"})
	c2 := u.Commit("second", map[string]string{"policy.hcl": policyV2, "other.hcl": ""})
	d := startGitDaemon(t, u.Root)
	s, logs := newSource(t, Config{URL: d.URL("policy.git")})
	if rev, _ := mustSync(t, s); rev.Commit != c2 {
		t.Fatal(rev)
	}
	gitRun(t, u.Work, "reset", "-q", "--hard", c1)
	u.Push()
	rev, changed := mustSync(t, s)
	if !changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 || !rev.Rewritten {
		t.Fatalf("changed=%v rev=%+v\n%s", changed, rev, logs)
	}
	if strings.Contains(logs.String(), "re-clon") {
		t.Errorf("needed a re-clone:\n%s", logs)
	}
}
