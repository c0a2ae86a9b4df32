package source

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func newKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// writeKeyring writes the public keys of e as an armored keyring file.
func writeKeyring(t *testing.T, e *openpgp.Entity) string {
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
	writeFile(t, file, buf.String())
	return file
}

// signedCommit commits the working copy's staged files with go-git, signed by key, and pushes.
func (u *upstream) signedCommit(msg string, files map[string]string, key *openpgp.Entity) string {
	u.t.Helper()
	for name, content := range files {
		writeFile(u.t, filepath.Join(u.work, name), content)
	}
	gitRun(u.t, u.work, "add", "-A")
	repo, err := git.PlainOpen(u.work)
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
	return u.push()
}

func TestSignedCommits(t *testing.T) {
	trusted, stranger := newKey(t, "fleet-admin"), newKey(t, "intruder")
	u := newUpstream(t)
	c1 := u.signedCommit("signed", map[string]string{"policy.hcl": policyV1}, trusted)
	d := startGitDaemon(t, u.root)
	s, _ := newSource(t, Config{URL: d.url("policy.git"), VerifyKeyring: writeKeyring(t, trusted)})
	if rev, changed := mustSync(t, s); !changed || rev.Commit != c1 {
		t.Fatalf("signed commit: changed=%v rev=%+v", changed, rev)
	}

	for _, tc := range []struct {
		name string
		key  *openpgp.Entity
		want string
	}{
		{"unsigned", nil, "not signed"},
		{"signed by another key", stranger, "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bad string
			if tc.key == nil {
				bad = u.commit(tc.name, map[string]string{"policy.hcl": "# " + tc.name + "\n"})
			} else {
				bad = u.signedCommit(tc.name, map[string]string{"policy.hcl": "# " + tc.name + "\n"}, tc.key)
			}
			rev, changed, err := s.Sync(context.Background())
			f := wantFault(t, err, KindSignature)
			t.Logf("fault: %v", f)
			if f.Commit != bad || !strings.Contains(f.Error(), bad) || !strings.Contains(f.Error(), tc.want) {
				t.Errorf("fault does not name commit %s and %q: %v", bad, tc.want, f)
			}
			if changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
				t.Errorf("refused commit reached the checkout: changed=%v rev=%+v", changed, rev)
			}
		})
	}

	c4 := u.signedCommit("signed again", map[string]string{"policy.hcl": policyV2}, trusted)
	if rev, changed := mustSync(t, s); !changed || rev.Commit != c4 || readPolicy(t, rev) != policyV2 {
		t.Fatalf("next signed commit: changed=%v rev=%+v", changed, rev)
	}
}
