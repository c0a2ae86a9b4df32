package gitserve

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is OpenSSH's sshd run as a child on a free port, with a host key and an authorized client
// key generated for the test.
type SSHD struct {
	Port                  int
	User                  string
	ClientKey, KnownHosts string // files for the client
	OtherKnownHosts       string // a known_hosts naming another key for the same host
}

// StartSSHD starts sshd for the current user until the test ends.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Fatalf("%s not found: install the Debian package openssh-server", sshd)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if me.Uid == "0" {
		// sshd refuses to start without its privilege separation directory, which the Debian
		// package creates only from its init script.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	s := &SSHD{Port: FreePort(t), User: me.Username}
	hostPub := WriteSSHKey(t, filepath.Join(dir, "host_key"))
	clientPub := WriteSSHKey(t, filepath.Join(dir, "client_key"))
	otherPub := WriteSSHKey(t, filepath.Join(dir, "other_key"))
	s.ClientKey = filepath.Join(dir, "client_key")
	WriteFile(t, filepath.Join(dir, "authorized_keys"), string(ssh.MarshalAuthorizedKey(clientPub)))
	host := knownhosts.Normalize(fmt.Sprintf("127.0.0.1:%d", s.Port))
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	WriteFile(t, s.KnownHosts, knownhosts.Line([]string{host}, hostPub)+"\n")
	s.OtherKnownHosts = filepath.Join(dir, "other_known_hosts")
	WriteFile(t, s.OtherKnownHosts, knownhosts.Line([]string{host}, otherPub)+"\n")

	conf := filepath.Join(dir, "sshd_config")
	WriteFile(t, conf, strings.Join([]string{
		fmt.Sprintf("Port %d", s.Port),
		"ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(dir, "host_key"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile none",
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password",
		"AllowUsers " + me.Username,
		"LogLevel VERBOSE",
	}, "\n")+"\n")
	out := &Buffer{}
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sshd output:\n%s", out)
		}
	})
	WaitListening(t, s.Port, out)
	return s
}

// URL is the ssh:// URL of a repository at an absolute path.
func (s *SSHD) URL(path string) string {
	return fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", s.User, s.Port, path)
}

// WriteSSHKey writes a new ed25519 private key in OpenSSH format and returns its public key.
func WriteSSHKey(t testing.TB, file string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
