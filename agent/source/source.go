// Package source keeps a local checkout of the policy folder of a git repository at the commit
// named by a branch, tag or SHA, using go-git: clone once, then fetch only what changed.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Revision is a checked-out policy.
type Revision struct {
	Commit string    // full SHA-1
	Dir    string    // the policy folder at Commit; valid until a later Sync returns changed
	Time   time.Time // committer time of Commit
	// Message is the end of Commit's message (its last MaxMessage bytes,
	// where git keeps trailers).
	Message string
	// Verified says Commit's signature was checked against the verify
	// keyring (always, when one is configured: others are refused).
	Verified bool
	// Rewritten is set, on the Sync that checked Commit out, when Commit does not descend from
	// the previous commit: the branch or tag was force-pushed. The source follows it (as Flux
	// does); the caller should alert. Left false when the answer is unknown (after a re-clone).
	Rewritten bool
	Previous  string // the commit checked out before this one (or Poll.Base), "" if none
	// Ahead is the commit the ref points at on the server when Poll.Fetch left it there: Commit
	// is then not the head, only the last commit fetched. "" when Commit is the head.
	Ahead string
}

// Poll is what the caller asks of one Sync beyond the default (fetch the head, tell rewrites
// against the last checkout).
type Poll struct {
	// Fetch, when set, is asked before a head the clone lacks is fetched; false leaves it on the
	// server, and Sync returns the last commit fetched with Revision.Ahead naming the head. It
	// is not asked when the clone holds no commit of the ref (a new node, a re-clone).
	Fetch func(head string) bool
	// Base, when set, is the commit the caller runs: Rewritten and Previous then tell whether
	// the commit checked out descends from it, rather than from the last checkout (which the
	// caller may have held back and never run).
	Base string
}

// Source fetches the policy. Its methods are safe for concurrent use; Syncs run one at a time.
type Source struct {
	cfg Config
	ep  *transport.Endpoint
	log *slog.Logger

	mu   sync.Mutex
	last Revision
}

// New checks cfg and returns a Source; nothing is fetched yet. A checkout left in cfg.Dir by an
// earlier run becomes the last revision, so the first Sync after a restart with no new commit
// reports changed=false. A nil log discards.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	ep, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Source{cfg: cfg, ep: ep, log: log.With("source", displayURL(cfg.URL))}
	if err := os.MkdirAll(s.checkouts(), 0o755); err != nil {
		return nil, &Fault{Kind: KindLocal, Err: fmt.Errorf("create %s: %w", s.checkouts(), err)}
	}
	// Two checkouts mean a crash between a checkout and the removal of the one before it; which
	// is newer is unknown, so neither is taken as last and the next Sync reports changed.
	if entries, err := os.ReadDir(s.checkouts()); err == nil {
		var found []string
		for _, e := range entries {
			if e.IsDir() && fullSHA.MatchString(e.Name()) {
				found = append(found, e.Name())
			}
		}
		if len(found) == 1 {
			s.last = Revision{Commit: found[0], Dir: filepath.Join(s.checkouts(), found[0])}
		}
	}
	return s, nil
}

func (s *Source) repoDir() string   { return filepath.Join(s.cfg.Dir, "repo") }
func (s *Source) checkouts() string { return filepath.Join(s.cfg.Dir, "checkouts") }

// Sync brings the clone up to date with the configured ref and returns the revision to apply.
// changed is false when the ref still points at the commit already checked out (nothing was
// written). On error, rev is the last good revision (zero if none) and err is a *Fault; the
// checkout of the last good revision is left in place. A broken local clone is re-cloned within
// the same Sync and only reported if that fails too.
func (s *Source) Sync(ctx context.Context) (rev Revision, changed bool, err error) {
	return s.SyncWith(ctx, Poll{})
}

// SyncWith is Sync with the caller's wishes p.
func (s *Source) SyncWith(ctx context.Context, p Poll) (rev Revision, changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	auth, secrets, err := s.credentials()
	if err != nil {
		return s.last, false, newFault(KindConfig, "", err, secrets)
	}
	rev, changed, err = s.sync(ctx, auth, secrets, p)
	var f *Fault
	if errors.As(err, &f) && f.Kind == KindCorrupt {
		s.log.Warn("local clone is unusable; re-cloning", "error", f.Error())
		if rmErr := s.wipe(); rmErr != nil {
			return s.last, false, newFault(KindLocal, "", rmErr, secrets)
		}
		rev, changed, err = s.sync(ctx, auth, secrets, p)
	}
	if err != nil {
		return s.last, false, err
	}
	return rev, changed, nil
}

func (s *Source) sync(ctx context.Context, auth transport.AuthMethod, secrets []string, p Poll) (Revision, bool, error) {
	fault := func(k Kind, commit string, err error) (Revision, bool, error) {
		return Revision{}, false, newFault(k, commit, err, secrets)
	}
	repo, err := s.open()
	if err != nil {
		return fault(KindCorrupt, "", err)
	}
	h, ahead, err := s.resolve(ctx, repo, auth, p.Fetch)
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			f.Err = &redacted{msg: scrub(f.Err.Error(), secrets), err: f.Err}
			return Revision{}, false, f
		}
		return fault(KindCorrupt, "", err)
	}
	commit, err := repo.CommitObject(h)
	if err == nil {
		_, err = commit.Tree() // cheap proof that the objects of the target are here
	}
	if err != nil {
		return fault(KindCorrupt, h.String(), fmt.Errorf("read commit: %w", err))
	}
	if s.cfg.VerifyKeyring != "" {
		if err := verify(commit, s.cfg.VerifyKeyring); err != nil {
			return fault(KindSignature, h.String(), err)
		}
	}
	rev := Revision{Commit: h.String(), Dir: filepath.Join(s.checkouts(), h.String()), Time: commit.Committer.When,
		Message: messageTail(commit.Message), Verified: s.cfg.VerifyKeyring != "", Ahead: ahead}
	if rev.Commit == s.last.Commit && isDir(rev.Dir) {
		s.prune(rev.Commit) // leftovers of an export interrupted by a crash
		s.last = rev
		return rev, false, nil
	}
	base := s.last.Commit
	if p.Base != "" {
		base = p.Base
	}
	if base != "" && rev.Commit != base {
		rev.Previous = base
		rev.Rewritten = s.rewritten(ctx, repo, auth, commit, plumbing.NewHash(base))
	}
	if !isDir(rev.Dir) {
		skipped, err := export(commit, s.cfg.Path, rev.Dir)
		switch {
		case errors.Is(err, errNoPath):
			return fault(KindConfig, rev.Commit, err)
		case errors.Is(err, plumbing.ErrObjectNotFound):
			return fault(KindCorrupt, rev.Commit, err)
		case err != nil:
			return fault(KindLocal, rev.Commit, fmt.Errorf("check out into %s: %w", s.checkouts(), err))
		}
		if len(skipped) > 0 {
			s.log.Warn("symlinks and submodules in the policy folder are ignored", "commit", rev.Commit, "files", skipped)
		}
	}
	s.prune(rev.Commit)
	if rev.Rewritten {
		s.log.Warn("history rewritten: the ref was force-pushed; following it", "kind", KindHistoryRewritten, "previous", rev.Previous, "commit", rev.Commit)
	}
	s.log.Info("policy checked out", "commit", rev.Commit, "path", s.cfg.Path)
	s.last = rev
	return rev, true, nil
}

// MaxMessage bounds what a Revision keeps of a commit message.
const MaxMessage = 16 << 10

func messageTail(m string) string {
	if len(m) > MaxMessage {
		return m[len(m)-MaxMessage:]
	}
	return m
}

// prune removes every checkout but keep, and temporary directories of interrupted exports.
func (s *Source) prune(keep string) {
	entries, err := os.ReadDir(s.checkouts())
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() != keep {
			if err := os.RemoveAll(filepath.Join(s.checkouts(), e.Name())); err != nil {
				s.log.Warn("cannot remove old checkout", "error", err)
			}
		}
	}
}

// deepenSteps are the depths fetched, one after the other, while the walk from the new commit
// reaches the edge of the shallow clone without meeting the previous one.
var deepenSteps = []int{16, 256, 4096}

// rewritten reports whether newc does not descend from old: the ref was force-pushed. The walk
// runs on the clone; where it reaches the edge of the shallow history, the ref is fetched
// deeper. When old is not in the clone (lost with a re-clone) or the server fails meanwhile,
// nothing can be said and it reports false. No trace of old within the deepest step counts as a
// rewrite.
func (s *Source) rewritten(ctx context.Context, repo *git.Repository, auth transport.AuthMethod, newc *object.Commit, old plumbing.Hash) bool {
	if s.cfg.Commit != "" || !hasObject(repo, old) {
		return false
	}
	name := plumbing.NewBranchReferenceName(s.cfg.Branch)
	if s.cfg.Tag != "" {
		name = plumbing.NewTagReferenceName(s.cfg.Tag)
	}
	for i := 0; ; i++ {
		found, complete := walk(repo, newc.Hash, old)
		if found || complete || i == len(deepenSteps) {
			return !found
		}
		if err := s.fetch(ctx, repo, refFetch(name, auth, deepenSteps[i])); err != nil {
			s.log.Warn("cannot fetch more history to tell whether the ref was force-pushed", "error", scrub(err.Error(), nil))
			return false
		}
	}
}

// walk looks for old among the ancestors of from that the clone holds. complete is false when
// some ancestor is missing (the edge of a shallow clone).
func walk(repo *git.Repository, from, old plumbing.Hash) (found, complete bool) {
	complete = true
	seen := map[plumbing.Hash]bool{from: true}
	queue := []plumbing.Hash{from}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == old {
			return true, true
		}
		c, err := repo.CommitObject(h)
		if err != nil {
			complete = false
			continue
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, complete
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
