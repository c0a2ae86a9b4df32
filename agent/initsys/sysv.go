package initsys

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// sysvReloader runs `service falco reload|restart`, as an operator would type it.
type sysvReloader struct {
	o      Options
	action string // "reload" where the script handles it, else "restart"
}

// reloadCase finds a case label of an init script that has `reload` among its patterns
// (`reload)`, `reload|force-reload)`, `stop|restart|reload)`): the label starts its line. Not a
// `force-reload)` alone, nor a commented-out `#reload|force-reload)` or the `{start|stop|reload}`
// of a usage message, as in the Debian-style script Falco's packages shipped, which has no reload.
var reloadCase = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^[ \t]*\(?[ \t]*(?:[^\s|)#(]+[ \t]*\|[ \t]*)*["']?reload["']?[ \t]*(?:\|[^\n)]*)?\)`)
})

// hasReload reports whether an init script handles `reload`.
func hasReload(script []byte) bool { return reloadCase().Match(script) }

func newSysV(o Options) (*sysvReloader, error) {
	b, err := os.ReadFile(o.path(o.InitScript))
	if err != nil {
		return nil, fmt.Errorf("sysv: %w", err)
	}
	r := &sysvReloader{o: o, action: "restart"}
	if hasReload(b) {
		r.action = "reload"
	}
	return r, nil
}

func (r *sysvReloader) Method() Method { return MethodSysV }

func (r *sysvReloader) Reload(ctx context.Context) error {
	if err := reloads.wait(ctx, r.o.MinGap); err != nil {
		return err
	}
	name := strings.TrimSuffix(baseName(r.o.InitScript), ".sh")
	out, err := exec.CommandContext(ctx, "service", name, r.action).CombinedOutput()
	if err != nil {
		return fmt.Errorf("service %s %s: %w: %s", name, r.action, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (r *sysvReloader) Verify(ctx context.Context, since time.Time) error {
	c := (&signalReloader{o: r.o}).checker()
	c.method = MethodSysV
	return c.verify(ctx, since)
}

func baseName(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}
