package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

var syscallEROFS = syscall.EROFS

// How long falco may take: --version answers at once; -V of every rules
// file takes 0.3-1 s with the upstream files (a plugin may add some).
var (
	falcoVersionTimeout  = 10 * time.Second
	falcoValidateTimeout = time.Minute
)

// falcoQuiet keeps rulekeeper's own runs of falco out of the node's syslog,
// where Falco logs its start-up lines by default (0.40 and later even for
// --version): the real 0.32.1, 0.40.0 and 0.44.1 all accept it, and it
// changes nothing that is loaded or checked. stderr, which rulekeeper reads,
// keeps the lines.
var falcoQuiet = []string{"-o", "log_syslog=false"}

var falcoVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Falco version:\s*v?(\d+\.\d+\.\d+\S*)`) })

// FalcoVersion asks a falco binary for its version (`falco --version`).
func FalcoVersion(bin string) (string, error) {
	out, err := runFalco(bin, falcoVersionTimeout, append(falcoQuiet[:len(falcoQuiet):len(falcoQuiet)], "--version"))
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", bin, err, firstLine(out))
	}
	m := falcoVersionRE().FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: no \"Falco version:\" in %q", bin, firstLine(out))
	}
	return string(m[1]), nil
}

// falcoValidate has Falco load every rules file, the new ones in place of
// the old, from a scratch directory, before any replaces a live file:
// Falco 0.32.1 exits when it reloads an invalid rules file. Falco reads the
// node's config as it does when it runs (its plugins, config.d), so that it
// knows the fields the rules use.
func falcoValidate(p *Plan) error {
	dir, err := os.MkdirTemp("", "rulekeeper-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	args, names, err := p.plannedConfigArgs(dir)
	if err != nil {
		return err
	}
	content := map[string][]byte{}
	for f, b := range p.cur {
		content[f] = b
	}
	for _, fc := range p.Files {
		content[fc.Path] = fc.New
	}
	args = append(falcoQuiet[:len(falcoQuiet):len(falcoQuiet)], args...)
	scratch := names // scratch copy, node file, in pairs
	for i, f := range p.order {
		name := filepath.Join(dir, fmt.Sprintf("%03d-%s", i, filepath.Base(f)))
		if err := os.WriteFile(name, content[f], 0o600); err != nil {
			return err
		}
		scratch = append(scratch, name, f)
		args = append(args, "-V", name)
	}
	out, err := runFalco(p.opts.FalcoBinary, falcoValidateTimeout, args)
	if err == nil {
		return nil
	}
	// Speak of the node's files, not of the scratch copies or the sandbox.
	msg := strings.NewReplacer(scratch...).Replace(falcoSays(string(out)))
	if !liveRoot(p.opts.Root) {
		msg = strings.ReplaceAll(msg, filepath.Clean(p.opts.Root)+"/", "/")
	}
	if errors.Is(err, errFalcoTimeout) {
		return fmt.Errorf("falco -V %w: the new rules files were not checked, nothing was written (Falco read the node's config %s):\n%s", err, p.config, msg)
	}
	return fmt.Errorf("falco -V rejects the new rules files, nothing was written (%v; Falco read the node's config %s):\n%s%s", err, p.config, msg, p.conditionHint(msg))
}

var errFalcoTimeout = errors.New("timed out")

// falcoLogLine matches the time Falco puts before each line it logs.
var falcoLogLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]?[0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}: `)
})

// falcoSays is what Falco said about the files, without what it logs while
// it starts (up to 30 lines on 0.44.1: its version, config files, plugin
// and container engines) but for its errors, and with its verdict once:
// Falco prints it on stdout and again after "Error: " on stderr.
func falcoSays(out string) string {
	var kept []string
	for _, l := range strings.Split(out, "\n") {
		if m := falcoLogLine().FindStringIndex(l); m != nil {
			if !strings.Contains(l, "rror") {
				continue
			}
			l = l[m[1]:]
		}
		kept = append(kept, l)
	}
	s := strings.TrimSpace(strings.Join(kept, "\n"))
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "Error: ") && (i == 0 || s[i-1] == '\n') {
			if once, ok := twice(s[:i] + s[i+len("Error: "):]); ok {
				return once
			}
			break
		}
	}
	return s
}

// twice tells whether s is one text twice over (split at a line end).
func twice(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' {
			continue
		}
		a, b := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
		if len(a) == len(b) && a == b && a != "" {
			return a, true
		}
	}
	return "", false
}

// runFalco runs falco and returns its output, stdout and stderr together,
// cut at maxFalcoOutput: a rules file full of errors makes Falco print each
// with the item it is in.
func runFalco(bin string, timeout time.Duration, args []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out capped
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second // a child that keeps the output open must not hold us
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("%w: no answer within %v, stopped", errFalcoTimeout, timeout)
	}
	return out.bytes(), err
}

const maxFalcoOutput = 16 << 10

// capped keeps the first maxFalcoOutput bytes written to it and counts the rest.
type capped struct {
	b    []byte
	more int
}

func (c *capped) Write(p []byte) (int, error) {
	n := min(len(p), maxFalcoOutput-len(c.b))
	c.b = append(c.b, p[:n]...)
	c.more += len(p) - n
	return len(p), nil
}

func (c *capped) bytes() []byte {
	if c.more == 0 {
		return c.b
	}
	return fmt.Appendf(c.b, "\n… %d more bytes", c.more)
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}
