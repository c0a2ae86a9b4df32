package source

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "exists")
	writeFile(t, file, "x")
	missing := filepath.Join(dir, "missing")
	notKeyring := filepath.Join(dir, "not-a-keyring")
	writeFile(t, notKeyring, "hello\n")

	for _, tc := range []struct {
		name   string
		cfg    Config
		want   []string
		hidden string // must not appear in the error
	}{
		{"no url", Config{}, []string{"url is empty"}, ""},
		{"bad protocol", Config{URL: "ftp://example.com/x"}, []string{`protocol "ftp" is not supported`}, ""},
		{"two refs", Config{URL: "git://h/r", Branch: "main", Tag: "v1"}, []string{"set only one"}, ""},
		{"short sha", Config{URL: "git://h/r", Commit: "abc123"}, []string{"full 40-character"}, ""},
		{"bad branch", Config{URL: "git://h/r", Branch: "a..b"}, []string{`branch "a..b" is not a valid`}, ""},
		{"path outside", Config{URL: "git://h/r", Path: "../etc"}, []string{`path "../etc" must be a folder inside`}, ""},
		{"absolute path", Config{URL: "git://h/r", Path: "/etc"}, []string{`path "/etc"`}, ""},
		{"token in url", Config{URL: "https://bot:s3cr3t-tok@git.example.com/p.git"},
			[]string{"credentials in the URL are not accepted"}, "s3cr3t-tok"},
		{"user only in url", Config{URL: "https://s3cr3t-tok@git.example.com/p.git"},
			[]string{"credentials in the URL"}, "s3cr3t-tok"},
		{"password without user", Config{URL: "https://h/r", Auth: Auth{PasswordFile: file}},
			[]string{"needs both username and password_file"}, ""},
		{"password file missing", Config{URL: "https://h/r", Auth: Auth{Username: "u", PasswordFile: missing}},
			[]string{"password_file", missing, "no such file"}, ""},
		{"ssh key for https", Config{URL: "https://h/r", Auth: Auth{SSHKeyFile: file}},
			[]string{"apply to ssh URLs only"}, ""},
		{"ssh without known_hosts", Config{URL: "ssh://git@h/r", Auth: Auth{SSHKeyFile: file}},
			[]string{"needs known_hosts_file", "always checked"}, ""},
		{"ssh without key", Config{URL: "git@h:r.git", Auth: Auth{KnownHostsFile: file}},
			[]string{"needs ssh_key_file"}, ""},
		{"credentials for git://", Config{URL: "git://h/r", Auth: Auth{Username: "u", PasswordFile: file}},
			[]string{"take no credentials"}, ""},
		{"keyring missing", Config{URL: "git://h/r", VerifyKeyring: missing},
			[]string{"verify_keyring", missing}, ""},
		{"keyring not armored", Config{URL: "git://h/r", VerifyKeyring: notKeyring},
			[]string{"not an armored OpenPGP public keyring"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Dir == "" && tc.name != "no url" {
				tc.cfg.Dir = t.TempDir()
			}
			_, err := New(tc.cfg, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			var f *Fault
			if !errors.As(err, &f) || f.Kind != KindConfig {
				t.Errorf("want a config Fault, got %T %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if tc.hidden != "" && strings.Contains(err.Error(), tc.hidden) {
				t.Errorf("error shows the credential %q:\n%v", tc.hidden, err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := New(Config{URL: "/srv/git/policy", Path: "fleet/", Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Branch != "main" || s.cfg.Path != "fleet" || s.ep.Protocol != "file" {
		t.Errorf("defaults: %+v protocol %s", s.cfg, s.ep.Protocol)
	}
}
