package source

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Config says where the policy lives and how to fetch it.
type Config struct {
	URL string // https://, http://, ssh://, user@host:path, git://, file:// or a local path
	// Exactly one of Branch, Tag and Commit; none means Branch "main". Commit is a full 40-hex
	// SHA-1 and must be reachable from a branch or tag of the remote.
	Branch, Tag, Commit string
	Path                string // folder of the repository holding the policy; "" is the top
	Auth                Auth
	// VerifyKeyring is an armored OpenPGP public keyring, re-read on every Sync; "" turns the
	// signature check off. When set, only a commit signed by one of its keys is checked out.
	VerifyKeyring string
	Dir           string        // where the source keeps its clone and checkouts
	Timeout       time.Duration // bound on one Sync; 0 means 2 minutes
}

// Auth holds the credentials. Files are re-read on every Sync, so a rotated token or key is
// picked up without a restart.
type Auth struct {
	// HTTP(S) basic authentication: a token or password read from PasswordFile (surrounding
	// white space trimmed). For a token, Username is whatever the server expects (often "git").
	Username, PasswordFile string
	// SSH: a private key without passphrase, and the known_hosts file that the server's host key
	// is checked against. Both are required for SSH; the host key check cannot be turned off.
	SSHKeyFile, KnownHostsFile string
}

var (
	fullSHA  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	errUsage = errors.New("invalid source configuration")
)

// validate checks the configuration and fills in defaults; the errors name the setting and what
// to do, and never echo a credential.
func (c *Config) validate() (*transport.Endpoint, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	var ep *transport.Endpoint
	if c.URL == "" {
		bad("url is empty: set it to the policy repository, e.g. https://git.example.com/sec/falco-policy.git")
	} else if e, err := transport.NewEndpoint(c.URL); err != nil {
		bad("url %q: %v", scrub(c.URL, nil), scrub(err.Error(), nil))
	} else {
		ep = e
		switch ep.Protocol {
		case "https", "http", "ssh", "git", "file":
		default:
			bad("url %q: protocol %q is not supported (use https, http, ssh, git or file)", scrub(c.URL, nil), ep.Protocol)
		}
		if (ep.Protocol == "https" || ep.Protocol == "http") && (ep.User != "" || ep.Password != "") {
			bad("url %q: credentials in the URL are not accepted: put the user in username and the token in password_file", scrub(c.URL, nil))
		}
		if ep.Protocol == "ssh" && ep.Password != "" {
			bad("url %q: a password in an ssh URL is not accepted: use ssh_key_file", scrub(c.URL, nil))
		}
	}

	set := 0
	for _, v := range []string{c.Branch, c.Tag, c.Commit} {
		if v != "" {
			set++
		}
	}
	switch {
	case set > 1:
		bad("branch %q, tag %q and commit %q: set only one of them", c.Branch, c.Tag, c.Commit)
	case set == 0:
		c.Branch = "main"
	}
	if c.Branch != "" {
		if err := plumbing.NewBranchReferenceName(c.Branch).Validate(); err != nil || strings.HasPrefix(c.Branch, "refs/") {
			bad("branch %q is not a valid branch name (give the short name, e.g. main)", c.Branch)
		}
	}
	if c.Tag != "" {
		if err := plumbing.NewTagReferenceName(c.Tag).Validate(); err != nil || strings.HasPrefix(c.Tag, "refs/") {
			bad("tag %q is not a valid tag name (give the short name, e.g. v3)", c.Tag)
		}
	}
	if c.Commit != "" {
		c.Commit = strings.ToLower(c.Commit)
		if !fullSHA.MatchString(c.Commit) {
			bad("commit %q: give the full 40-character SHA-1 (short SHAs are ambiguous)", c.Commit)
		}
	}

	p := filepath.ToSlash(c.Path)
	if p != "" {
		clean := path.Clean(p)
		if path.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../") {
			bad("path %q must be a folder inside the repository, relative to its top", c.Path)
		}
		if clean == "." {
			clean = ""
		}
		c.Path = clean
	}

	if c.Dir == "" {
		bad("dir is empty: the source needs a directory for its clone")
	} else if abs, err := filepath.Abs(c.Dir); err != nil {
		bad("dir %q: %v", c.Dir, err)
	} else {
		c.Dir = abs
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}

	if ep != nil {
		errs = append(errs, c.Auth.validate(ep.Protocol)...)
	}
	if c.VerifyKeyring != "" {
		if _, err := readKeyring(c.VerifyKeyring); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, &Fault{Kind: KindConfig, Err: fmt.Errorf("%w: %w", errUsage, errors.Join(errs...))}
	}
	return ep, nil
}

func (a Auth) validate(protocol string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	readable := func(setting, file string) {
		if f, err := os.Open(file); err != nil {
			bad("%s %q cannot be read: %v", setting, file, errors.Unwrap(err))
		} else {
			f.Close()
		}
	}
	httpSet := a.Username != "" || a.PasswordFile != ""
	sshSet := a.SSHKeyFile != "" || a.KnownHostsFile != ""
	switch protocol {
	case "https", "http":
		if sshSet {
			bad("ssh_key_file and known_hosts_file apply to ssh URLs only; this URL is %s", protocol)
		}
		if httpSet && (a.Username == "" || a.PasswordFile == "") {
			bad("HTTP authentication needs both username and password_file (for a token, the user the server expects, often \"git\")")
		}
		if a.PasswordFile != "" {
			readable("password_file", a.PasswordFile)
		}
	case "ssh":
		if httpSet {
			bad("username and password_file apply to https URLs only; for ssh put the user in the URL (ssh://git@host/repo)")
		}
		if a.SSHKeyFile == "" {
			bad("ssh URL needs ssh_key_file (a private key without passphrase)")
		} else {
			readable("ssh_key_file", a.SSHKeyFile)
		}
		if a.KnownHostsFile == "" {
			bad("ssh URL needs known_hosts_file: the server's host key is always checked (write it with ssh-keyscan and check the fingerprint)")
		} else {
			readable("known_hosts_file", a.KnownHostsFile)
		}
	default:
		if httpSet || sshSet {
			bad("%s URLs take no credentials; remove username, password_file, ssh_key_file and known_hosts_file", protocol)
		}
	}
	return errs
}

// readKeyring reads the trusted keys; an empty or unreadable keyring is an error, because a
// check against no key would refuse every commit for a reason the operator would not guess.
func readKeyring(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("verify_keyring %q cannot be read: %w", file, errors.Unwrap(err))
	}
	ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(string(b)))
	if err != nil {
		return "", fmt.Errorf("verify_keyring %q is not an armored OpenPGP public keyring (gpg --export --armor KEYID): %w", file, err)
	}
	if len(ring) == 0 {
		return "", fmt.Errorf("verify_keyring %q holds no key", file)
	}
	return string(b), nil
}

// displayURL is the URL as it may appear in logs.
func displayURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return scrub(raw, nil)
}
