// Package falcoservice holds how the tests run the stand-in Falco as a
// service on a machine without systemd: an LSB init script in the style
// Falco's packages shipped up to 0.27 (start-stop-daemon and a pid file).
package falcoservice

import (
	_ "embed"
	"strings"
)

//go:embed falco.init
var initScript string

// InitScript is /etc/init.d/falco running daemon with the given falco.yaml;
// it logs to /run/falco-standin.log and writes /var/run/falco.pid.
func InitScript(daemon, config string) string {
	return strings.NewReplacer("@DAEMON@", daemon, "@CONFIG@", config).Replace(initScript)
}
