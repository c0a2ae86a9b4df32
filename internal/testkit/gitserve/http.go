package gitserve

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// HTTP is smart HTTP: `git http-backend` behind net/http/cgi, asking for basic auth.
type HTTP struct {
	*httptest.Server
	// Packs counts the upload-pack requests (negotiations), as opposed to ref advertisements.
	Packs atomic.Int32
	// Refused counts the requests turned away for wrong or missing credentials.
	Refused atomic.Int32
}

// StartHTTP serves root's repositories (URL/NAME) to user with password until the test ends.
func StartHTTP(t testing.TB, root, user, password string) *HTTP {
	t.Helper()
	Need(t, "git", "git")
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("%s missing: install the Debian package git", backend)
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	s := &HTTP{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			s.Refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			s.Packs.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}
