package source

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// need fails the test when a binary is missing, naming the Debian package that has it: a test
// that cannot run must say so, not pass.
func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (apt-get install %s)", bin, pkg, pkg)
	}
	return p
}

// gitRun runs the git CLI in dir with a fixed identity and no user or system configuration.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	need(t, "git", "git")
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

// upstream is a bare repository (what the server serves) and a working copy that pushes to it.
type upstream struct {
	t          *testing.T
	root, bare string // root holds bare as root/policy.git
	work       string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	root := t.TempDir()
	u := &upstream{t: t, root: root, bare: filepath.Join(root, "policy.git"), work: t.TempDir()}
	gitRun(t, root, "init", "-q", "--bare", "-b", "main", u.bare)
	gitRun(t, u.work, "init", "-q", "-b", "main")
	gitRun(t, u.work, "remote", "add", "origin", u.bare)
	return u
}

// commit writes files (a "" content deletes), commits and pushes with --force, returning the SHA.
func (u *upstream) commit(msg string, files map[string]string) string {
	u.t.Helper()
	for name, content := range files {
		p := filepath.Join(u.work, name)
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
	gitRun(u.t, u.work, "add", "-A")
	gitRun(u.t, u.work, "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", msg)
	return u.push()
}

func (u *upstream) push() string {
	u.t.Helper()
	branch := gitRun(u.t, u.work, "rev-parse", "--abbrev-ref", "HEAD")
	gitRun(u.t, u.work, "push", "-q", "--force", "origin", "HEAD:refs/heads/"+branch)
	return gitRun(u.t, u.work, "rev-parse", "HEAD")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, port int, logs fmt.Stringer) {
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

// syncBuffer collects a child's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
