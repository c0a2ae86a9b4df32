package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

const remoteName = "origin"

// open opens the bare clone, making an empty one when there is none or when it was made for
// another URL. The repository is opened anew on
// every Sync so that files removed or damaged under it are noticed, not hidden by open handles.
func (s *Source) open() (repo *git.Repository, err error) {
	st := func() *filesystem.Storage {
		// A small object cache: policy repositories are small and the daemon must stay lean.
		return filesystem.NewStorage(osfs.New(s.repoDir()), cache.NewObjectLRU(4*cache.MiByte))
	}
	repo, err = git.Open(st(), nil)
	if err == nil {
		if rc, rerr := repo.Remote(remoteName); rerr == nil && len(rc.Config().URLs) == 1 && rc.Config().URLs[0] == s.cfg.URL {
			return repo, nil
		}
		s.log.Info("the clone was made for another URL; cloning again")
	} else if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("open clone %s: %w", s.repoDir(), err)
	}
	if err := s.wipe(); err != nil {
		return nil, err
	}
	repo, err = git.Init(st(), nil)
	if err != nil {
		return nil, fmt.Errorf("create clone %s: %w", s.repoDir(), err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: remoteName, URLs: []string{s.cfg.URL}}); err != nil {
		return nil, fmt.Errorf("create clone %s: %w", s.repoDir(), err)
	}
	return repo, nil
}

// wipe removes the clone (not the checkouts): moved aside first so that a crash half-way leaves
// no half-deleted repository at the usual place.
func (s *Source) wipe() error {
	aside := s.repoDir() + ".old"
	if err := os.RemoveAll(aside); err != nil {
		return err
	}
	if err := os.Rename(s.repoDir(), aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(aside)
}

// resolve fetches what is needed and returns the target commit. When fetch (if set) declines
// a head the clone lacks, it returns the commit fetched last and the head left on the server as
// ahead. Errors that come from the server are *Fault; any other error means the local clone is
// broken.
func (s *Source) resolve(ctx context.Context, repo *git.Repository, auth transport.AuthMethod, fetch func(string) bool) (h plumbing.Hash, ahead string, err error) {
	if s.cfg.Commit != "" {
		h, err := s.resolveCommit(ctx, repo, auth)
		return h, "", err
	}
	name := plumbing.NewBranchReferenceName(s.cfg.Branch)
	what := "branch " + s.cfg.Branch
	if s.cfg.Tag != "" {
		name, what = plumbing.NewTagReferenceName(s.cfg.Tag), "tag "+s.cfg.Tag
	}

	// Ask for the refs first: a poll that finds the ref where it was costs one advertisement and
	// no negotiation.
	lister := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: remoteName, URLs: []string{s.cfg.URL}})
	refs, err := lister.ListContext(ctx, &git.ListOptions{Auth: auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		refs, err = nil, nil // reported below as the ref not found
	}
	if err != nil {
		return plumbing.ZeroHash, "", &Fault{Kind: remoteKind(err), Err: fmt.Errorf("list refs of %s: %w%s", displayURL(s.cfg.URL), err, s.hint(err))}
	}
	var remote plumbing.Hash
	for _, r := range refs {
		if r.Name() == name {
			remote = r.Hash()
		}
	}
	if remote.IsZero() {
		return plumbing.ZeroHash, "", &Fault{Kind: KindRefNotFound, Err: fmt.Errorf("%s not found at %s (deleted or never pushed); keeping the last checkout", what, displayURL(s.cfg.URL))}
	}

	local, lerr := repo.Reference(name, false)
	if lerr != nil || local.Hash() != remote || !hasObject(repo, remote) {
		if fetch != nil && lerr == nil && hasObject(repo, local.Hash()) && !fetch(remote.String()) {
			h, err := peel(repo, name)
			return h, remote.String(), err
		}
		if err := s.fetch(ctx, repo, refFetch(name, auth, 1)); err != nil {
			return plumbing.ZeroHash, "", err
		}
	}
	h, err = peel(repo, name)
	return h, "", err
}

// resolveCommit makes sure a pinned commit is in the clone. Once it is, nothing is fetched
// again: a commit cannot change. Servers do not all allow fetching a SHA by itself, so the
// branches and tags are fetched, not shallow.
func (s *Source) resolveCommit(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) (plumbing.Hash, error) {
	h := plumbing.NewHash(s.cfg.Commit)
	if hasObject(repo, h) {
		return h, nil
	}
	if sh, _ := repo.Storer.Shallow(); len(sh) > 0 {
		// Left by a branch or tag setting: a full fetch into it would trust history it lacks.
		return plumbing.ZeroHash, errors.New("the clone is shallow and a pinned commit needs the full history")
	}
	err := s.fetch(ctx, repo, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !hasObject(repo, h) {
		return plumbing.ZeroHash, &Fault{Kind: KindRefNotFound, Commit: s.cfg.Commit, Err: fmt.Errorf("commit is not on any branch or tag of %s", displayURL(s.cfg.URL))}
	}
	return h, nil
}

// fetch runs a fetch and sorts its errors: from the server (a *Fault), or from the clone
// (returned as they are and taken as corruption by the caller).
func (s *Source) fetch(ctx context.Context, repo *git.Repository, opts *git.FetchOptions) error {
	err := repo.FetchContext(ctx, opts)
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return tidyShallow(repo)
	case isNetwork(err), remoteKind(err) != KindUnreachable:
		return &Fault{Kind: remoteKind(err), Err: fmt.Errorf("fetch from %s: %w%s", displayURL(s.cfg.URL), err, s.hint(err))}
	}
	return fmt.Errorf("fetch into %s: %w", s.repoDir(), err)
}

// refFetch fetches one branch or tag, depth commits deep. Every fetch of a ref is shallow: that
// way go-git tells the server where the clone's history stops, and the server sends whatever
// the clone lacks. (A fetch without depth would let the server assume the clone has all the
// history before its tip, and leave out objects it never had: a force-push back to the parent
// commit would arrive empty.)
func refFetch(name plumbing.ReferenceName, auth transport.AuthMethod, depth int) *git.FetchOptions {
	return &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{config.RefSpec("+" + name + ":" + name)},
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
		Depth:      depth,
	}
}

// tidyShallow keeps in the shallow list only the commits whose parents are missing. go-git adds
// the new boundary after each shallow fetch but never drops the old one, so without this the
// list, sent to the server on every fetch, would grow by one commit per change.
func tidyShallow(repo *git.Repository) error {
	shallow, err := repo.Storer.Shallow()
	if err != nil || len(shallow) == 0 {
		return err
	}
	var keep []plumbing.Hash
	for _, h := range shallow {
		c, err := repo.CommitObject(h)
		if err != nil {
			continue // not here at all: nothing to say about its parents
		}
		for _, p := range c.ParentHashes {
			if !hasObject(repo, p) {
				keep = append(keep, h)
				break
			}
		}
	}
	if len(keep) == len(shallow) {
		return nil
	}
	return repo.Storer.SetShallow(keep)
}

// peel returns the commit a local branch or tag points at, through annotated tags.
func peel(repo *git.Repository, name plumbing.ReferenceName) (plumbing.Hash, error) {
	ref, err := repo.Reference(name, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", name, err)
	}
	h := ref.Hash()
	for range 10 {
		tag, err := repo.TagObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return h, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		h = tag.Target
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: tags nested too deep", name)
}

func hasObject(repo *git.Repository, h plumbing.Hash) bool {
	_, err := repo.Storer.EncodedObject(plumbing.AnyObject, h)
	return err == nil
}

// hint tells the operator what to do about an authentication fault.
func (s *Source) hint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "key mismatch"):
		return fmt.Sprintf(" (the server's host key differs from the one in %s: if the key was changed on purpose, replace it there after checking its fingerprint)", s.cfg.Auth.KnownHostsFile)
	case strings.Contains(msg, "key is unknown"):
		return fmt.Sprintf(" (the host is not in %s: add its key, e.g. from ssh-keyscan, after checking its fingerprint)", s.cfg.Auth.KnownHostsFile)
	case remoteKind(err) == KindAuth && s.ep.Protocol == "ssh":
		return " (the server refused the key in ssh_key_file)"
	case remoteKind(err) == KindAuth:
		return " (check username and the token in password_file)"
	case s.ep.Protocol == "git" && strings.Contains(msg, "timeout exceeded"):
		// go-git's git:// client, given a connection closed without a
		// byte, waits 10 s for an error text git:// has no channel for.
		return " (the server closed the connection without answering: look in its log, git daemon's for one, for why)"
	}
	return ""
}
