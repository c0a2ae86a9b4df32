package fleetsim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const shippedNginx = "../../packaging/nginx/rulekeeper-git.conf"

// The nginx config rulekeeper ships serves a clone, and answers the ref
// listing of a no-change poll from its cache for 5 s: the second listing
// is a HIT, a push is seen once the 5 s are over. The uncached run's
// adaptation turns the cache off and nothing else.
func TestShippedNginxConfig(t *testing.T) {
	for _, bin := range []string{"git", "nginx", "fcgiwrap"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed: apt-get install git nginx-light fcgiwrap", bin)
		}
	}
	dir := t.TempDir()
	r, err := newRepo(dir, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := r.push(0)
	if err != nil {
		t.Fatal(err)
	}
	srvDir := filepath.Join(dir, "server")
	s, err := startServer(HTTPCache, r.base, "policy.git", srvDir, 0, shippedNginx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if s.refsCache != "5s" {
		t.Errorf("the shipped config keeps the ref advertisement %q, want 5s", s.refsCache)
	}
	url := "http://" + s.addr + "/policy.git"
	lsRemote := func() string {
		t.Helper()
		out, err := exec.Command("git", "-c", "protocol.version=0", "ls-remote", url, "refs/heads/main").CombinedOutput()
		if err != nil {
			t.Fatalf("git ls-remote %s: %v\n%s", url, err, out)
		}
		return strings.Fields(string(out))[0]
	}
	if out, err := exec.Command("git", "clone", "-q", url, filepath.Join(dir, "clone")).CombinedOutput(); err != nil {
		t.Fatalf("git clone through the shipped config: %v\n%s", err, out)
	}
	listed := time.Now()
	if got := lsRemote(); got != first {
		t.Fatalf("ls-remote: %s, want %s", got, first)
	}
	second, _, err := r.push(1)
	if err != nil {
		t.Fatal(err)
	}
	// Within the 5 s the cached advertisement still names the first commit.
	if got := lsRemote(); got != first && time.Since(listed) < 4*time.Second {
		t.Errorf("a listing within the cache's 5 s named %s, want the cached %s", got, first)
	}
	deadline := listed.Add(5*time.Second + 3*time.Second)
	for lsRemote() != second {
		if time.Now().After(deadline) {
			t.Fatal("the push is not seen 5 s after the advertisement was cached")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // the access log is flushed every second
	log, _ := os.ReadFile(filepath.Join(srvDir, "access.log"))
	if !strings.Contains(string(log), " HIT \"GET /policy.git/info/refs") {
		t.Errorf("no ref listing was answered from the cache:\n%s", log)
	}

	site, err := nginxSite(shippedNginx, 1, "/b", "/x", "/s", "/c", false)
	if err != nil {
		t.Fatal(err)
	}
	if refsCacheValidity(site) != "" || strings.Count(site, "fastcgi_cache off;") != 1 {
		t.Errorf("the uncached adaptation still caches:\n%s", site)
	}
	if _, err := nginxSite(filepath.Join(dir, "missing.conf"), 1, "/b", "/x", "/s", "/c", true); err == nil {
		t.Error("a missing config was accepted")
	}
}
