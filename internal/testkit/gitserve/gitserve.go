// Package gitserve starts real git servers on 127.0.0.1 for tests: `git daemon`, smart HTTP
// (`git http-backend` behind net/http/cgi, with basic auth) and OpenSSH's sshd, and keeps the
// bare repository they serve. A missing binary fails the test with the Debian package to install:
// a test that cannot run must say so, not pass.
package gitserve

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Need fails the test when a binary is missing, naming the Debian package that has it.
func Need(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (apt-get install %s)", bin, pkg, pkg)
	}
	return p
}

// Git runs the git CLI in dir with a fixed identity and no user or system configuration.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	Need(t, "git", "git")
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir,
		"GIT_AUTHOR_NAME=Policy Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Policy Author", "GIT_COMMITTER_EMAIL=author@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitListening waits until something accepts connections on the port; logs is the server's
// output, shown when it never does.
func WaitListening(t testing.TB, port int, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on 127.0.0.1:%d after 10s; server output:\n%s", port, logs)
}

// WriteFile writes a private file (keys, tokens) or fails the test.
func WriteFile(t testing.TB, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ReplaceFile puts content in file whole, by a rename, as a secret's
// rotation does: a reader never sees the file empty or half written.
func ReplaceFile(t testing.TB, file, content string) {
	t.Helper()
	tmp := file + ".new"
	WriteFile(t, tmp, content)
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// Buffer collects a child's output (or a logger's) safely from several goroutines.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
