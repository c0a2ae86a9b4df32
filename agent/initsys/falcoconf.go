package initsys

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/internal/regfile"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// falcoConf is what verification needs from falco.yaml. Defaults are Falco's.
type falcoConf struct {
	rules   []string // rules_files (0.38+) or rules_file (0.32) entries
	watch   bool     // watch_config_files
	webOn   bool
	port    int
	metrics bool // metrics.enabled and webserver.prometheus_metrics_enabled
}

func readFalcoConf(path string) (falcoConf, error) {
	c := falcoConf{watch: true, webOn: true, port: 8765,
		rules: []string{"/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.local.yaml", "/etc/falco/rules.d"}}
	b, err := regfile.Read(path, reconcile.MaxRulesFileSize) // bounded: falco.yaml could be a link to /dev/zero
	if err != nil {
		return c, fmt.Errorf("read falco config: %w", err)
	}
	var raw struct {
		RulesFiles yaml.Node `yaml:"rules_files"`
		RulesFile  yaml.Node `yaml:"rules_file"`
		Watch      *bool     `yaml:"watch_config_files"`
		Web        struct {
			Enabled *bool `yaml:"enabled"`
			Port    int   `yaml:"listen_port"`
			Prom    bool  `yaml:"prometheus_metrics_enabled"`
		} `yaml:"webserver"`
		Metrics struct {
			Enabled bool `yaml:"enabled"`
		} `yaml:"metrics"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return c, fmt.Errorf("falco config %s is not valid YAML: %w", path, err)
	}
	n := &raw.RulesFiles
	if n.Kind == 0 {
		n = &raw.RulesFile
	}
	switch n.Kind {
	case 0:
	case yaml.ScalarNode:
		c.rules = []string{n.Value}
	default:
		if err := n.Decode(&c.rules); err != nil {
			return c, fmt.Errorf("falco config %s: rules_file: %w", path, err)
		}
	}
	if raw.Watch != nil {
		c.watch = *raw.Watch
	}
	if raw.Web.Enabled != nil {
		c.webOn = *raw.Web.Enabled
	}
	if raw.Web.Port != 0 {
		c.port = raw.Web.Port
	}
	c.metrics = c.webOn && raw.Metrics.Enabled && raw.Web.Prom
	return c, nil
}

// ruleHashes hashes the rules files Falco would load now, as its metrics report them.
func ruleHashes(o Options, entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		p := o.path(e)
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		files := []string{e}
		if st.IsDir() {
			des, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			files = files[:0]
			for _, d := range des {
				if !d.IsDir() && (strings.HasSuffix(d.Name(), ".yaml") || strings.HasSuffix(d.Name(), ".yml")) {
					files = append(files, filepath.Join(e, d.Name()))
				}
			}
			sort.Strings(files)
		}
		for _, f := range files {
			b, err := reconcile.ReadRulesFile(o.Root, f) // bounded: a link to /dev/zero must not hang verification
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			sum := sha256.Sum256(b)
			out[f] = hex.EncodeToString(sum[:])
		}
	}
	return out, nil
}
