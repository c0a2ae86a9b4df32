package source

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leaks fails the test when any of the secrets shows in the texts.
func leaks(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, sec := range secrets {
		for _, text := range texts {
			if strings.Contains(text, sec) {
				t.Errorf("secret %q printed in:\n%s", sec, text)
			}
		}
	}
}

func TestHTTPBasicAuth(t *testing.T) {
	const token = "tok-3f9a1c77e2b04d5e"
	const wrong = "tok-wrong-8c1d2e3f4a"
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"policy.hcl": policyV1})
	srv := startHTTP(t, u.Root, "fleet-bot", token)
	pwFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, pwFile, token+"\n")

	s, logs := newSource(t, Config{URL: srv.URL + "/policy.git",
		Auth: Auth{Username: "fleet-bot", PasswordFile: pwFile}})
	rev, changed := mustSync(t, s)
	if !changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
		t.Fatalf("changed=%v rev=%+v", changed, rev)
	}
	// A poll that finds the same commit only reads the ref advertisement: no pack negotiation.
	n := srv.Packs.Load()
	if _, changed := mustSync(t, s); changed || srv.Packs.Load() != n {
		t.Fatalf("unchanged poll: changed=%v, %d upload-pack requests", changed, srv.Packs.Load()-n)
	}
	c2 := u.Commit("second", map[string]string{"policy.hcl": policyV2})
	if rev, _ := mustSync(t, s); rev.Commit != c2 {
		t.Fatalf("second commit not fetched: %+v", rev)
	}

	// A rotated, wrong token is read on the next Sync and refused.
	writeFile(t, pwFile, wrong)
	rev, _, err := s.Sync(context.Background())
	f := wantFault(t, err, KindAuth)
	t.Logf("fault: %v", f)
	if rev.Commit != c2 {
		t.Errorf("last revision not kept: %+v", rev)
	}
	leaks(t, []string{token, wrong}, f.Error(), logs.String())

	// No credentials at all: refused too.
	anon, anonLogs := newSource(t, Config{URL: srv.URL + "/policy.git"})
	_, _, err = anon.Sync(context.Background())
	t.Logf("fault: %v", wantFault(t, err, KindAuth))
	leaks(t, []string{token}, err.Error(), anonLogs.String())

	// The right token again: recovered.
	writeFile(t, pwFile, token)
	if rev, changed := mustSync(t, s); changed || rev.Commit != c2 {
		t.Fatalf("after the token is fixed: changed=%v rev=%+v", changed, rev)
	}
	leaks(t, []string{token, wrong}, logs.String())
}

func TestSSHWithKnownHosts(t *testing.T) {
	u := newUpstream(t)
	c1 := u.Commit("first", map[string]string{"fleet/policy.hcl": policyV1})
	srv := startSSHD(t)
	key, err := os.ReadFile(srv.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	keyBody := strings.Split(string(key), "\n")[1] // a line of the private key itself

	s, logs := newSource(t, Config{URL: srv.URL(u.Bare), Path: "fleet",
		Auth: Auth{SSHKeyFile: srv.ClientKey, KnownHostsFile: srv.KnownHosts}})
	rev, changed := mustSync(t, s)
	if !changed || rev.Commit != c1 || readPolicy(t, rev) != policyV1 {
		t.Fatalf("changed=%v rev=%+v", changed, rev)
	}
	c2 := u.Commit("second", map[string]string{"fleet/policy.hcl": policyV2})
	if rev, changed := mustSync(t, s); !changed || rev.Commit != c2 {
		t.Fatalf("second commit: changed=%v rev=%+v", changed, rev)
	}

	// The server's host key is not the one in known_hosts: refused before any credential is sent.
	other, otherLogs := newSource(t, Config{URL: srv.URL(u.Bare),
		Auth: Auth{SSHKeyFile: srv.ClientKey, KnownHostsFile: srv.OtherKnownHosts}})
	_, _, err = other.Sync(context.Background())
	f := wantFault(t, err, KindAuth)
	t.Logf("fault: %v", f)
	if !strings.Contains(f.Error(), "key mismatch") && !strings.Contains(f.Error(), "host key") {
		t.Errorf("fault does not say the host key is wrong: %v", f)
	}

	// A host not in known_hosts at all is refused too.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, empty, "")
	unknown, _ := newSource(t, Config{URL: srv.URL(u.Bare),
		Auth: Auth{SSHKeyFile: srv.ClientKey, KnownHostsFile: empty}})
	_, _, err = unknown.Sync(context.Background())
	t.Logf("fault: %v", wantFault(t, err, KindAuth))

	// A key the server does not authorize.
	stranger := filepath.Join(t.TempDir(), "stranger")
	writeKey(t, stranger)
	refused, _ := newSource(t, Config{URL: srv.URL(u.Bare),
		Auth: Auth{SSHKeyFile: stranger, KnownHostsFile: srv.KnownHosts}})
	_, _, err = refused.Sync(context.Background())
	t.Logf("fault: %v", wantFault(t, err, KindAuth))

	leaks(t, []string{keyBody}, logs.String(), otherLogs.String(), err.Error())
}
