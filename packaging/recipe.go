package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the packagers
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

// recipe is what goes into the packages; packaging/files and
// packaging/scripts hold the texts, this says where they go.
type recipe struct {
	root, files, work string
	bin               string // holds the programs rulekeeper and rulekeeperd
	version, arch     string
	mtime             time.Time
}

const maintainer = "rulekeeper maintainers <rulekeeper@users.noreply.github.com>"

// description is the Debian form: a summary line, then the long text
// indented by one space. rpmDescription is the long text alone.
const description = `keeps Falco rule files as a policy in git says
 rulekeeper is a node agent: it clones an HCL policy from git, edits Falco's
 rule files surgically as the policy declares, reloads Falco through the
 node's init system (systemd, SysV or a signal) and undoes edits that did not
 come through git.`

// write builds one package per format into out.
func (r recipe) write(out string) ([]string, error) {
	page, err := os.ReadFile(filepath.Join(r.files, "files/rulekeeper.1"))
	if err != nil {
		return nil, err
	}
	man, err := r.gzipped(page, "rulekeeper.1.gz")
	if err != nil {
		return nil, err
	}
	page8, err := os.ReadFile(filepath.Join(r.files, "files/rulekeeperd.8"))
	if err != nil {
		return nil, err
	}
	man8, err := r.gzipped(page8, "rulekeeperd.8.gz")
	if err != nil {
		return nil, err
	}
	changelog, err := r.changelog()
	if err != nil {
		return nil, err
	}
	var written []string
	for _, format := range []string{"deb", "rpm"} {
		info := r.info(format, man, man8, changelog)
		p, err := r.pack(format, info, out)
		if err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

func (r recipe) info(format, man, man8, changelog string) *nfpm.Info {
	src := func(p string) string { return filepath.Join(r.files, p) }
	file := func(from, to string, mode os.FileMode) *files.Content {
		return &files.Content{Source: from, Destination: to, FileInfo: &files.ContentFileInfo{Mode: mode}}
	}
	config := func(from, to string, mode os.FileMode) *files.Content {
		c := file(from, to, mode)
		c.Type = files.TypeConfigNoReplace // deb: a conffile; rpm: %config(noreplace)
		return c
	}
	info := &nfpm.Info{
		Name:        "rulekeeper",
		Arch:        r.arch,
		Platform:    "linux",
		Version:     r.version,
		Section:     "admin",
		Priority:    "optional",
		Maintainer:  maintainer,
		Vendor:      "rulekeeper",
		Homepage:    "https://github.com/rulekeeper/rulekeeper",
		License:     "Apache-2.0",
		Description: description,
		MTime:       r.mtime,
	}
	o := &info.Overridables
	o.Umask = 0o022
	o.Suggests = []string{"falco"}
	o.Contents = files.Contents{
		file(filepath.Join(r.bin, "rulekeeper"), "/usr/bin/rulekeeper", 0o755),
		// `rulekeeper run` becomes the daemon found beside it.
		file(filepath.Join(r.bin, "rulekeeperd"), "/usr/bin/rulekeeperd", 0o755),
		config(src("files/agent.hcl"), "/etc/rulekeeper/agent.hcl", 0o644),
		{Destination: "/var/lib/rulekeeper", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o700}},
		file(man, "/usr/share/man/man1/rulekeeper.1.gz", 0o644),
		file(man8, "/usr/share/man/man8/rulekeeperd.8.gz", 0o644),
		file(src("files/copyright"), "/usr/share/doc/rulekeeper/copyright", 0o644),
		// For the fleet's Prometheus to load (rule_files); README.md, "Observing a fleet".
		file(src("prometheus/rulekeeper-alerts.yaml"), "/usr/share/rulekeeper/prometheus/rulekeeper-alerts.yaml", 0o644),
		// For the fleet's Grafana to import; README.md, "Observing a fleet".
		file(src("grafana/rulekeeper-fleet.json"), "/usr/share/rulekeeper/grafana/rulekeeper-fleet.json", 0o644),
		// For the fleet's git server; README.md, "Scale, measured".
		file(src("nginx/rulekeeper-git.conf"), "/usr/share/rulekeeper/nginx/rulekeeper-git.conf", 0o644),
	}
	switch format {
	case "deb":
		o.Depends = []string{"init-system-helpers (>= 1.54~)"}
		o.Contents = append(o.Contents,
			file(src("files/rulekeeper.service"), "/lib/systemd/system/rulekeeper.service", 0o644),
			// Nodes without systemd are Debian-family ones: the script
			// relies on start-stop-daemon, which RPM systems lack.
			config(src("files/rulekeeper.init"), "/etc/init.d/rulekeeper", 0o755),
			file(changelog, "/usr/share/doc/rulekeeper/changelog.gz", 0o644),
			file(src("files/lintian-overrides"), "/usr/share/lintian/overrides/rulekeeper", 0o644))
		o.Scripts = nfpm.Scripts{
			PostInstall: src("scripts/deb/postinst"),
			PreRemove:   src("scripts/deb/prerm"),
			PostRemove:  src("scripts/deb/postrm"),
		}
	case "rpm":
		info.Description = rpmDescription()
		o.Contents = append(o.Contents,
			file(src("files/rulekeeper.service"), "/usr/lib/systemd/system/rulekeeper.service", 0o644))
		o.Scripts = nfpm.Scripts{
			PostInstall: src("scripts/rpm/post"),
			PreRemove:   src("scripts/rpm/preun"),
			PostRemove:  src("scripts/rpm/postun"),
		}
		o.RPM = nfpm.RPM{
			Summary: "Keeps Falco rule files as a policy in git says",
			Group:   "System Environment/Daemons",
		}
	}
	return nfpm.WithDefaults(info)
}

func rpmDescription() string {
	_, long, _ := strings.Cut(description, "\n")
	return strings.ReplaceAll(strings.TrimPrefix(long, " "), "\n ", "\n")
}

// pack writes one package, through a temporary file: a failed build leaves
// no half package behind.
func (r recipe) pack(format string, info *nfpm.Info, out string) (string, error) {
	pkg, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	if err := nfpm.Validate(info); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	dst := filepath.Join(out, pkg.ConventionalFileName(info))
	tmp, err := os.CreateTemp(out, ".rulekeeper-*."+format)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	info.Target = dst
	if err := pkg.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("building the %s: %w", format, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", err
	}
	return dst, nil
}

// gzipped writes b compressed into the work directory, without a name or
// time in the header (lintian and reproducible builds ask that).
func (r recipe) gzipped(b []byte, name string) (string, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	dst := filepath.Join(r.work, name)
	return dst, os.WriteFile(dst, buf.Bytes(), 0o644)
}

// changelog writes the Debian changelog of this build. The packaging lives
// with the code, so the package is Debian-native: changelog.gz, one entry.
func (r recipe) changelog() (string, error) {
	text := fmt.Sprintf("rulekeeper (%s) stable; urgency=medium\n\n  * rulekeeper %s.\n\n -- %s  %s\n",
		r.version, r.version, maintainer, r.mtime.Format(time.RFC1123Z))
	return r.gzipped([]byte(text), "changelog.gz")
}
