package source

import (
	"context"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

func TestSignedCommits(t *testing.T) {
	trusted, stranger := newKey(t, "fleet-admin"), newKey(t, "intruder")
	u := newUpstream(t)
	c1 := u.SignedCommit("signed", map[string]string{"policy.hcl": policyV1}, trusted)
	d := startGitDaemon(t, u.Root)
	s, _ := newSource(t, Config{URL: d.URL("policy.git"), VerifyKeyring: writeKeyring(t, trusted)})
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
				bad = u.Commit(tc.name, map[string]string{"policy.hcl": "# " + tc.name + "\n"})
			} else {
				bad = u.SignedCommit(tc.name, map[string]string{"policy.hcl": "# " + tc.name + "\n"}, tc.key)
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

	c4 := u.SignedCommit("signed again", map[string]string{"policy.hcl": policyV2}, trusted)
	if rev, changed := mustSync(t, s); !changed || rev.Commit != c4 || readPolicy(t, rev) != policyV2 {
		t.Fatalf("next signed commit: changed=%v rev=%+v", changed, rev)
	}
}
