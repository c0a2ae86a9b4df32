package fleetsim

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Server kinds: how the one policy repository is served.
const (
	GitDaemon = "git-daemon" // git daemon, git://
	HTTP      = "http"       // smart HTTP: nginx, fcgiwrap, git http-backend
	// HTTPCache is HTTP with nginx keeping the ref advertisement (GET
	// info/refs, all a no-change poll asks) as the shipped config says
	// (5 s): a fleet's no-change polls then start no process, and a push
	// is seen at most that much later.
	HTTPCache = "http-cache"
)

// server is a git server running as children of this process, in their own
// process group, on 127.0.0.1.
type server struct {
	kind  string
	addr  string // host:port
	path  string // the repository's path in the URL
	cmds  []*exec.Cmd
	roots []int   // pids whose process trees are the server's CPU
	cg    *cgroup // the server's processes, when a cgroup could be made
	logs  []string
	// refsCache is how long nginx keeps a ref advertisement, "" for none.
	refsCache string
}

// cpu is the server's CPU so far, in nanoseconds: its cgroup's, else its
// process trees' (which misses children reaped by the kernel).
func (s *server) cpu() int64 {
	if s.cg != nil {
		return s.cg.usage()
	}
	return treeCPU(s.roots) * (1e9 / ticksPerSecond)
}

// accounting says how cpu measures.
func (s *server) accounting() string {
	if s.cg != nil {
		return "cgroup " + s.cg.dir
	}
	return "process tree (utime+stime+cutime+cstime); no cgroup could be made"
}

// url is the repository's URL as seen through a proxy at addr.
func (s *server) url(addr string) string {
	if s.kind == GitDaemon {
		return "git://" + addr + "/" + s.path
	}
	// http and http-cache
	return "http://" + addr + "/" + s.path
}

func (s *server) stop() {
	for _, c := range s.cmds {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			_ = c.Wait()
		}
	}
	if s.cg != nil {
		// Children the kernel reaps may outlive their group's leader by a moment.
		for range 50 {
			if b, _ := os.ReadFile(s.cg.procs()); len(bytes.TrimSpace(b)) == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.cg.remove()
	}
}

// startServer serves base/repo (a bare repository) the given way; dir is a
// scratch folder for the server's config, sockets and logs.
// maxConns is git daemon's --max-connections (0: git's default, 32);
// nginxConf is the shipped nginx config the HTTP servers adapt.
func startServer(kind, base, repo, dir string, maxConns int, nginxConf string) (*server, error) {
	if kind != GitDaemon && kind != HTTP && kind != HTTPCache {
		return nil, fmt.Errorf("unknown server %q: %s, %s or %s", kind, GitDaemon, HTTP, HTTPCache)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{kind: kind, addr: fmt.Sprintf("127.0.0.1:%d", port), path: repo, cg: newCgroup(kind)}
	switch kind {
	case GitDaemon:
		args := []string{"daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
			fmt.Sprintf("--port=%d", port), "--base-path=" + base}
		if maxConns > 0 {
			args = append(args, fmt.Sprintf("--max-connections=%d", maxConns))
		}
		if err := s.start(dir, "git-daemon", "git", append(args, base)...); err != nil {
			s.stop()
			return nil, err
		}
	case HTTP, HTTPCache:
		if err := s.startHTTP(base, dir, port, kind == HTTPCache, nginxConf); err != nil {
			s.stop()
			return nil, err
		}
	}
	if err := waitListening(s.addr, 10*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w; its log: %s", kind, err, strings.Join(s.logs, ", "))
	}
	return s, nil
}

// start runs a server program in its own process group, its output in
// dir/name.log.
func (s *server) start(dir, name, bin string, args ...string) error {
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("%s not found: scripts/bench-fleet.sh installs it (apt-get install git nginx-light fcgiwrap)", bin)
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	if s.cg != nil {
		// The program joins the group before it starts: all it forks is counted.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `echo $$ > "$0" && exec "$@"`, s.cg.procs(), bin}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmds = append(s.cmds, cmd)
	s.roots = append(s.roots, cmd.Process.Pid)
	s.logs = append(s.logs, log.Name())
	return nil
}

// startHTTP is Debian's smart-HTTP recipe: nginx hands every request to
// fcgiwrap, which runs git http-backend. nginx closes each connection after
// its answer (keepalive_timeout 0) so that the proxy's connections are the
// requests; a keep-alive server would instead hold an idle connection per
// agent.
func (s *server) startHTTP(base, dir string, port int, cache bool, nginxConf string) error {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return fmt.Errorf("git --exec-path: %w (apt-get install git)", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	sock := filepath.Join(dir, "fcgiwrap.sock")
	_ = os.Remove(sock)
	// Eight prefork workers, each running one git http-backend at a time:
	// with four, a loaded machine's scheduling delays capped the server at
	// about 30 requests a second, below a thousand agents' polls at 30 s.
	if err := s.start(dir, "fcgiwrap", "fcgiwrap", "-c", "8", "-s", "unix:"+sock); err != nil {
		return err
	}
	if err := waitFile(sock, 10*time.Second); err != nil {
		return fmt.Errorf("fcgiwrap: %w", err)
	}
	for _, d := range []string{"body", "fastcgi", "proxy", "uwsgi", "scgi", "cache"} {
		if err := os.MkdirAll(filepath.Join(dir, "tmp", d), 0o755); err != nil {
			return err
		}
	}
	site, err := nginxSite(nginxConf, port, base, backend, sock, filepath.Join(dir, "tmp", "cache"), cache)
	if err != nil {
		return err
	}
	s.refsCache = refsCacheValidity(site)
	conf := fmt.Sprintf(`worker_processes 2;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  log_format fleet '$msec $status $request_length $bytes_sent $upstream_cache_status "$request"';
  access_log %[1]s/access.log fleet buffer=64k flush=1s;
  keepalive_timeout 0;
  client_body_temp_path %[1]s/tmp/body;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  proxy_temp_path %[1]s/tmp/proxy;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
%[2]s
}
`, dir, site)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return err
	}
	return s.start(dir, "nginx", "nginx", "-p", dir, "-e", filepath.Join(dir, "nginx-error.log"), "-c", cf, "-g", "daemon off;")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v", addr, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFile(p string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(p); err == nil {
			return nil
		} else if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", p, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
