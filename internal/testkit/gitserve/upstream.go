package gitserve

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Upstream is a bare repository (what the servers serve) and a working copy that pushes to it.
type Upstream struct {
	t    testing.TB
	Root string // the servers' base: holds Bare as Root/policy.git
	Bare string
	Work string
}

// NewUpstream makes an empty bare repository with branch main, and its working copy.
func NewUpstream(t testing.TB) *Upstream {
	t.Helper()
	root := t.TempDir()
	u := &Upstream{t: t, Root: root, Bare: filepath.Join(root, "policy.git"), Work: t.TempDir()}
	Git(t, root, "init", "-q", "--bare", "-b", "main", u.Bare)
	Git(t, u.Work, "init", "-q", "-b", "main")
	Git(t, u.Work, "remote", "add", "origin", u.Bare)
	return u
}

// Git runs git in the working copy.
func (u *Upstream) Git(args ...string) string {
	u.t.Helper()
	return Git(u.t, u.Work, args...)
}

// Commit writes files (a "" content deletes), commits unsigned and pushes with --force,
// returning the SHA.
func (u *Upstream) Commit(msg string, files map[string]string) string {
	u.t.Helper()
	u.write(files)
	Git(u.t, u.Work, "add", "-A")
	Git(u.t, u.Work, "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", msg)
	return u.Push()
}

// SignedCommit is Commit with an OpenPGP signature by key (made by go-git, so no gpg agent).
func (u *Upstream) SignedCommit(msg string, files map[string]string, key *openpgp.Entity) string {
	u.t.Helper()
	u.write(files)
	Git(u.t, u.Work, "add", "-A")
	repo, err := git.PlainOpen(u.Work)
	if err != nil {
		u.t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		u.t.Fatal(err)
	}
	who := &object.Signature{Name: "Policy Author", Email: "author@example.com", When: time.Now()}
	if _, err := wt.Commit(msg, &git.CommitOptions{Author: who, Committer: who, SignKey: key, AllowEmptyCommits: true}); err != nil {
		u.t.Fatal(err)
	}
	return u.Push()
}

// Push force-pushes the working copy's branch, returning its SHA.
func (u *Upstream) Push() string {
	u.t.Helper()
	branch := Git(u.t, u.Work, "rev-parse", "--abbrev-ref", "HEAD")
	Git(u.t, u.Work, "push", "-q", "--force", "origin", "HEAD:refs/heads/"+branch)
	return Git(u.t, u.Work, "rev-parse", "HEAD")
}

func (u *Upstream) write(files map[string]string) {
	u.t.Helper()
	for name, content := range files {
		p := filepath.Join(u.Work, name)
		if content == "" {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			u.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
}

// NewKey makes an OpenPGP signing key.
func NewKey(t testing.TB, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// WriteKeyring writes the public key of e as an armored keyring file and returns its path.
func WriteKeyring(t testing.TB, e *openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	file := filepath.Join(t.TempDir(), "trusted.asc")
	WriteFile(t, file, buf.String())
	return file
}
