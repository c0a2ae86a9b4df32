package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const defaultVersion = "0.1.0"

// Options say what to build.
type Options struct {
	Out     string // directory for the packages
	Version string // "" finds it with git describe
	Arch    string // Go architecture: amd64 or arm64
}

// Build compiles rulekeeper and writes its .deb and .rpm into o.Out,
// returning their paths.
func Build(o Options) ([]string, error) {
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return nil, fmt.Errorf("--arch %q: want amd64 or arm64", o.Arch)
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	if o.Version == "" {
		o.Version = describeVersion(root)
	}
	if !validVersion.MatchString(o.Version) {
		return nil, fmt.Errorf("--version %q: want a version such as 1.2.3 or 1.2.3-rc1 (digits first; letters, digits, '.', '+', '~', '-')", o.Version)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("creating --out: %w", err)
	}
	work, err := os.MkdirTemp("", "rulekeeper-packaging-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	bin := filepath.Join(work, "bin")
	if err := compile(root, bin, o.Version, o.Arch); err != nil {
		return nil, err
	}
	r := recipe{
		root:    root,
		files:   filepath.Join(root, "packaging"),
		work:    work,
		bin:     bin,
		version: o.Version,
		arch:    o.Arch,
		mtime:   commitTime(root),
	}
	return r.write(o.Out)
}

var validVersion = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~-]*$`)

// moduleRoot is the directory of rulekeeper's go.mod, wherever this runs from.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the rulekeeper module: run from its checkout")
	}
	return filepath.Dir(mod), nil
}

// describeVersion turns the nearest v* tag into a package version: v0.2.0
// is 0.2.0, and three commits later 0.2.0+3.gabc1234, which sorts after
// 0.2.0 for both dpkg and rpm. Without a tag it is defaultVersion.
func describeVersion(root string) string {
	cmd := exec.Command("git", "describe", "--tags", "--match", "v[0-9]*")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return defaultVersion
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	if m := regexp.MustCompile(`^(.*)-([0-9]+)-(g[0-9a-f]+)$`).FindStringSubmatch(v); m != nil {
		v = m[1] + "+" + m[2] + "." + m[3]
	}
	return v
}

// commitTime dates the files in the packages, so that two builds of one
// commit give the same packages. SOURCE_DATE_EPOCH wins, as everywhere.
func commitTime(root string) time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	cmd := exec.Command("git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// compile builds static, stripped rulekeeper and rulekeeperd for the
// target into the directory dst.
func compile(root, dst, version, arch string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version="+version, "-o", dst+"/", ".", "./cmd/rulekeeperd")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build of rulekeeper and rulekeeperd: %w\n%s", err, stderr.String())
	}
	return nil
}
