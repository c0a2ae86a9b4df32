package source

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// credentials reads the credential files for one Sync. secrets lists what must never be
// printed, for scrubbing error texts.
func (s *Source) credentials() (auth transport.AuthMethod, secrets []string, err error) {
	a := s.cfg.Auth
	switch s.ep.Protocol {
	case "https", "http":
		if a.PasswordFile == "" {
			return nil, nil, nil
		}
		b, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("password_file %q: %w", a.PasswordFile, err)
		}
		pw := strings.TrimSpace(string(b))
		if pw == "" {
			return nil, nil, fmt.Errorf("password_file %q is empty", a.PasswordFile)
		}
		return &githttp.BasicAuth{Username: a.Username, Password: pw}, []string{pw}, nil
	case "ssh":
		user := s.ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, "")
		if err != nil {
			// The parse error of a key never quotes the key, but say what to do.
			return nil, nil, fmt.Errorf("ssh_key_file %q: %w (a passphrase-protected key is not supported)", a.SSHKeyFile, err)
		}
		db, err := gitssh.NewKnownHostsDb(a.KnownHostsFile)
		if err != nil {
			return nil, nil, fmt.Errorf("known_hosts_file %q: %w", a.KnownHostsFile, err)
		}
		port := s.ep.Port
		if port == 0 {
			port = 22
		}
		hostPort := net.JoinHostPort(s.ep.Host, strconv.Itoa(port))
		keys.HostKeyCallback = db.HostKeyCallback()
		// Offer only the key types known_hosts has for this host, else the server may pick a
		// type we hold no key for and the check fails although the right key is there.
		keys.HostKeyAlgorithms = db.HostKeyAlgorithms(hostPort)
		return &sshAuth{PublicKeys: keys}, nil, nil
	}
	return nil, nil, nil
}

// sshAuth bounds the SSH dial and handshake, which go-git runs without the Sync context.
type sshAuth struct{ *gitssh.PublicKeys }

func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	c, err := a.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	c.Timeout = 30 * time.Second
	return c, nil
}
