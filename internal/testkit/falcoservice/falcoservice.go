// Package falcoservice sets a node up the way the tests run a Falco as a service: the real Falco
// builds (0.32.1 with its noevents plugin, 0.40.0 with no driver) installed in /usr/bin with
// their own config and rules in /etc/falco, a systemd unit or an LSB init script in the style of
// the ones Falco's packages shipped, and the stand-in Falco where a real one cannot serve.
package falcoservice

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
)

//go:embed falco.init
var initScript string

// LogFile is where the init script sends Falco's output.
const LogFile = "/var/log/falco.log"

// InitScript is /etc/init.d/falco running daemon with args in the foreground under
// start-stop-daemon, which writes /var/run/falco.pid and sends the output to LogFile. Its reload
// is commented out: `service falco reload` fails, restart is the way.
func InitScript(daemon string, args ...string) string {
	return initScriptText(noReload, daemon, args)
}

// InitScriptWithReload is InitScript with a `reload)` that sends Falco SIGHUP.
func InitScriptWithReload(daemon string, args ...string) string {
	return initScriptText(sighupReload, daemon, args)
}

const (
	noReload     = "  #reload|force-reload)\n  #  start-stop-daemon --stop --signal HUP --quiet --pidfile $PIDFILE --exec $DAEMON ;;"
	sighupReload = "  reload)\n    start-stop-daemon --stop --signal HUP --quiet --pidfile $PIDFILE --exec $DAEMON ;;"
)

func initScriptText(reload, daemon string, args []string) string {
	return strings.NewReplacer("@RELOAD@", reload, "@DAEMON@", daemon, "@ARGS@", strings.Join(args, " "), "@LOG@", LogFile).Replace(initScript)
}

// Setup is how a test wants its Falco.
type Setup struct {
	Version  string // "0.32.1" or "0.40.0"
	Watch    bool   // watch_config_files
	Port     int    // the web server's port (/healthz): the lab shares the host's network
	NoSyslog bool   // log_syslog: false (Falco logs to stderr alone), for a Falco run on the host
	Metrics  bool   // metrics and the web server's /metrics on (0.40.0)
}

// Node is a real Falco and its files.
type Node struct {
	Setup
	Bin    string   // the falco program
	Config string   // its falco.yaml
	Dir    string   // the folder of its config and rules
	Args   []string // what the service runs it with
}

// Install puts the real Falco of s.Version and its files in place on the running system
// (/usr/bin/falco, /etc/falco, the plugin in /usr/share/falco/plugins: the lab's containers)
// and returns how to run it.
func Install(t testing.TB, s Setup) Node {
	t.Helper()
	n := Files(t, s, "/etc/falco")
	install(t, n.Bin, "/usr/bin/falco", 0o755)
	n.Bin = "/usr/bin/falco"
	if s.Version == "0.32.1" {
		install(t, filepath.Join(realfalco.Dir(t), "0.32.1/plugins/libnoevents.so"), "/usr/share/falco/plugins/libnoevents.so", 0o755)
	}
	return n
}

// Files writes the config and rules of a real Falco of s.Version into dir and returns how to
// run the build in place. The rules are the exam's Falco 0.32.1 node for 0.32.1, falco-rules
// 3.2.0 (what 0.40 ships) for 0.40.0; the config is that version's own with s applied.
func Files(t testing.TB, s Setup, dir string) Node {
	t.Helper()
	repo := repoRoot(t)
	builds := realfalco.Dir(t)
	n := Node{Setup: s, Bin: realfalco.Binary(t, s.Version), Dir: dir, Config: filepath.Join(dir, "falco.yaml")}
	n.Args = []string{"-c", n.Config}
	var conf string
	switch s.Version {
	case "0.32.1":
		copyTree(t, filepath.Join(repo, "examples/cks-terminal-shell/node/etc/falco"), dir)
		// No driver here: the noevents plugin is its event source (see the builds' README).
		conf = read(t, filepath.Join(builds, "0.32.1/falco-noevents.yaml"))
		if dir != "/etc/falco" { // else Install puts it where a relative library_path points
			conf = replaceOnce(t, conf, "library_path: libnoevents.so", "library_path: "+filepath.Join(builds, "0.32.1/plugins/libnoevents.so"))
		}
	case "0.40.0":
		install(t, filepath.Join(repo, "reconcile/testdata/falco/falco_rules-3.2.0.yaml"), filepath.Join(dir, "falco_rules.yaml"), 0o644)
		install(t, "/dev/null", filepath.Join(dir, "falco_rules.local.yaml"), 0o644)
		if err := os.MkdirAll(filepath.Join(dir, "rules.d"), 0o755); err != nil {
			t.Fatal(err)
		}
		conf = read(t, filepath.Join(repo, "internal/testkit/falcoservice/testdata/falco-0.40.0.yaml"))
		n.Args = append(n.Args, "-o", "engine.kind=nodriver")
	default:
		t.Fatalf("falcoservice: no service setup for Falco %s", s.Version)
	}
	conf = replaceOnce(t, conf, "watch_config_files: true", fmt.Sprintf("watch_config_files: %t", s.Watch))
	conf = replaceOnce(t, conf, "listen_port: 8765", fmt.Sprintf("listen_port: %d", s.Port))
	if s.Metrics {
		conf = replaceOnce(t, conf, "metrics:\n  enabled: false", "metrics:\n  enabled: true")
		conf = replaceOnce(t, conf, "prometheus_metrics_enabled: false", "prometheus_metrics_enabled: true")
	}
	if s.NoSyslog {
		conf = replaceOnce(t, conf, "log_syslog: true", "log_syslog: false")
	}
	if dir != "/etc/falco" {
		conf = strings.ReplaceAll(conf, "\n  - /etc/falco/", "\n  - "+dir+"/")
	}
	if err := os.WriteFile(n.Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// Remove takes away what Install put in place.
func Remove() {
	os.RemoveAll("/etc/falco")
	os.Remove("/usr/bin/falco")
	os.RemoveAll("/usr/share/falco")
	os.Remove("/var/run/falco.pid")
}

// Unit is falco.service running the node's Falco in the foreground. With execReload it is the
// unit of Falco 0.36+ (ExecReload=kill -1 $MAINPID), else 0.32's, which can only restart.
func (n Node) Unit(execReload bool, extra ...string) string {
	u := "[Unit]\nDescription=Falco " + n.Version + "\n" + strings.Join(extra, "\n") +
		"\n[Service]\nType=simple\nExecStart=" + n.Bin + " " + strings.Join(n.Args, " ") + "\n"
	if execReload {
		u += "ExecReload=/bin/kill -1 $MAINPID\n"
	}
	return u
}

// InitScript is the node's /etc/init.d/falco.
func (n Node) InitScript() string { return InitScript(n.Bin, n.Args...) }

// InitScriptWithReload is the node's /etc/init.d/falco with a reload that sends SIGHUP.
func (n Node) InitScriptWithReload() string { return InitScriptWithReload(n.Bin, n.Args...) }

func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("falcoservice: cannot find the repository")
	}
	return filepath.Join(filepath.Dir(file), "../../..")
}

func read(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func install(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	if out, err := exec.Command("install", "-D", "-m", fmt.Sprintf("%o", mode), src, dst).CombinedOutput(); err != nil {
		t.Fatalf("install %s %s: %v\n%s", src, dst, err, out)
	}
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("falcoservice: want exactly one %q in Falco's config", old)
	}
	return strings.Replace(s, old, new, 1)
}
