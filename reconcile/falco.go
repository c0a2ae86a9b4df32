package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/noderoot"
)

var syscallEROFS = syscall.EROFS

var falcoVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Falco version:\s*v?(\d+\.\d+\.\d+\S*)`) })

// FalcoVersion asks a falco binary for its version (`falco --version`).
func FalcoVersion(bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
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
// Falco 0.32.1 exits when it reloads an invalid rules file.
func falcoValidate(p *Plan) error {
	dir, err := os.MkdirTemp("", "rulekeeper-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	content := map[string][]byte{}
	for f, b := range p.cur {
		content[f] = b
	}
	for _, fc := range p.Files {
		content[fc.Path] = fc.New
	}
	// The node's falco.yaml: without a config Falco refuses -V ("You must
	// create a config file"), and from 0.41 the container fields exist only
	// through the plugin it loads. Where the node has none, Falco says so.
	var args []string
	if conf, err := noderoot.Host(p.opts.Root, p.config); p.config != "" && err == nil && fileExists(conf) {
		args = append(args, "-c", conf)
	}
	names := map[string]string{}
	for i, f := range p.order {
		name := filepath.Join(dir, fmt.Sprintf("%03d-%s", i, filepath.Base(f)))
		if err := os.WriteFile(name, content[f], 0o600); err != nil {
			return err
		}
		names[name] = f
		args = append(args, "-V", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.opts.FalcoBinary, args...).CombinedOutput()
	if err == nil {
		return nil
	}
	msg := string(bytes.TrimSpace(out))
	for scratch, f := range names { // speak of the node's files, not the scratch copies
		msg = strings.ReplaceAll(msg, scratch, f)
	}
	return fmt.Errorf("falco -V rejects the new rules files, nothing was written (%v):\n%s", err, msg)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}
