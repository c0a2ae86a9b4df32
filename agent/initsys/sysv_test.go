package initsys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/falcoservice"
)

// The sysv method runs `service falco reload` only where the init script handles reload, else
// restart: a reload the script lacks fails (its usage message, exit 3) and Falco is not reloaded.
// The cases are the case labels and the lines around them of init scripts as they are shipped:
// the Debian-style script Falco's packages had up to 0.27 (reload commented out, but named in a
// commented usage line and a do_reload function), their RPM script (reload is a case of its own),
// Debian's ssh, hwclock.sh and postgresql scripts, and the lab's own (with and without reload).
func TestSysVDetectsReload(t *testing.T) {
	for _, c := range []struct {
		name   string
		script string
		want   string
	}{
		{"falco-0.27-debian", `do_reload() {
	start-stop-daemon --stop --signal 1 --quiet --pidfile $PIDFILE --name $NAME
	return 0
}

case "$1" in
  start)
	do_start
	;;
  #reload|force-reload)
	#do_reload
	#;;
  restart|force-reload)
	do_stop
	;;
  *)
	#echo "Usage: $SCRIPTNAME {start|stop|restart|reload|force-reload}" >&2
	echo "Usage: $SCRIPTNAME {start|stop|status|restart|force-reload}" >&2
	exit 3
	;;
esac
`, "restart"},
		{"falco-0.27-rpm", `reload() {
    restart
}

case "$1" in
    restart)
        $1
        ;;
    reload)
        rh_status_q || exit 7
        $1
        ;;
    force-reload)
        force_reload
        ;;
    *)
        echo $"Usage: $0 {start|stop|status|restart|condrestart|try-restart|reload|force-reload}"
        exit 2
esac
`, "reload"},
		{"debian-ssh", "case \"$1\" in\n  stop)\n\t;;\n  reload|force-reload)\n\tcheck_for_no_start\n\t;;\nesac\n", "reload"},
		{"debian-hwclock", "case \"$1\" in\n        start)\n            ;;\n        stop|restart|reload|force-reload)\n            hwclocksh stop\n            ;;\nesac\n", "reload"},
		{"debian-postgresql", "case \"$1\" in\n    start|stop|restart|reload)\n        ;;\n    force-reload)\n        ;;\nesac\n", "reload"},
		{"parenthesised-quoted", "case $1 in\n  (\"reload\") kill -HUP $PID ;;\nesac\n", "reload"},
		{"force-reload-only", "case \"$1\" in\n  force-reload)\n    $0 restart ;;\n  restart)\n    ;;\nesac\n", "restart"},
		{"usage-only", "case \"$1\" in\n  restart) ;;\n  *) echo \"Usage: $0 {start|stop|reload|restart}\" ;;\nesac\n", "restart"},
		{"lab-restart-only", falcoservice.InitScript("/usr/bin/falco", "-c", "/etc/falco/falco.yaml"), "restart"},
		{"lab-sighup-reload", falcoservice.InitScriptWithReload("/usr/bin/falco", "-c", "/etc/falco/falco.yaml"), "reload"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "falco")
			if err := os.WriteFile(p, []byte(c.script), 0o755); err != nil {
				t.Fatal(err)
			}
			r, err := newSysV(Options{InitScript: p})
			if err != nil {
				t.Fatal(err)
			}
			if r.action != c.want {
				t.Fatalf("service falco %s, want %s, for:\n%s", r.action, c.want, c.script)
			}
		})
	}
}

// A forced sysv method names the action in what Detect says.
func TestSysVDetectSays(t *testing.T) {
	p := filepath.Join(t.TempDir(), "falco")
	if err := os.WriteFile(p, []byte(falcoservice.InitScriptWithReload("/usr/bin/falco")), 0o755); err != nil {
		t.Fatal(err)
	}
	_, why, err := Detect(t.Context(), Options{Method: MethodSysV, InitScript: p})
	if err != nil || why != "method sysv set in the agent config: service falco reload" {
		t.Fatalf("got %q, %v", why, err)
	}
}

// With no method set and no systemd booted, an init script at the
// configured path makes the node a SysV one; without the script, Detect
// looks further (here: no Falco runs, so none).
func TestSysVDetectedByItsScript(t *testing.T) {
	if booted(Options{}) {
		t.Fatal("this host runs systemd (/run/systemd/system): this test needs a host without it, as the test command's are; the systemd cases run in the lab")
	}
	o := newNode(t, "watch_config_files: false\n").options() // else Falco's own watch comes first
	o.InitScript = filepath.Join(t.TempDir(), "falco")
	if err := os.WriteFile(o.InitScript, []byte(falcoservice.InitScriptWithReload("/usr/bin/falco")), 0o755); err != nil {
		t.Fatal(err)
	}
	r, why, err := Detect(t.Context(), o)
	if err != nil || r.Method() != MethodSysV || !strings.HasPrefix(why, "no systemd; "+o.InitScript+" exists: service falco reload") {
		t.Fatalf("with the script: got %v %q %v", r, why, err)
	}
	o.InitScript += "-missing"
	if r, why, err = Detect(t.Context(), o); err != nil || r.Method() == MethodSysV {
		t.Fatalf("without the script: got %v %q %v", r, why, err)
	}
}
