//go:build lab

package initsys

import (
	"testing"
)

// The real Falco 0.40.0 and 0.32.1 under the lab's systemd: restart (Falco 0.32's unit), reload
// (0.36+'s ExecReload), and Falco's own file watch.
func BenchmarkLabSystemd(b *testing.B) {
	needLab(b, "systemd")
	for _, version := range []string{"0.32.1", "0.40.0"} {
		for _, c := range []struct {
			name              string
			watch, execReload bool
			want              Method
		}{{"restart", false, false, MethodSystemd}, {"reload", false, true, MethodSystemd}, {"watch", true, true, MethodWatch}} {
			if version == "0.32.1" && c.name == "reload" {
				continue // 0.32's unit has no ExecReload, and 0.32.1 with its watch off survives one SIGHUP only
			}
			b.Run(version+"-"+c.name, func(b *testing.B) {
				f := installRealUnit(b, version, c.watch, c.execReload)
				benchPass(b, f.options(), f.rules, c.want)
			})
		}
	}
}

// The real Falco under SysV: `service falco restart`, `service falco reload` (a script whose
// reload sends SIGHUP), SIGHUP, and Falco's own file watch.
func BenchmarkLabSysV(b *testing.B) {
	needLab(b, "sysv")
	for _, version := range []string{"0.32.1", "0.40.0"} {
		for _, c := range []struct {
			name          string
			watch, reload bool
			force         Method
			want          Method
		}{
			{"restart", false, false, "", MethodSysV},
			{"reload", false, true, "", MethodSysV},
			{"signal", false, false, MethodSignal, MethodSignal},
			{"watch", true, false, "", MethodWatch},
		} {
			if version == "0.32.1" && (c.name == "signal" || c.name == "reload") {
				continue // 0.32.1 with its watch off survives one SIGHUP only
			}
			b.Run(version+"-"+c.name, func(b *testing.B) {
				f := installSysVScript(b, version, c.watch, c.reload)
				o := f.options()
				o.Method = c.force
				benchPass(b, o, f.rules, c.want)
			})
		}
	}
}
