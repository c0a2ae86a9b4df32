package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// config is the part of falco.yaml the stand-in honours. Defaults are Falco's.
type config struct {
	RulesFile        []string `yaml:"-"`
	WatchConfigFiles bool     `yaml:"-"`
	Webserver        struct {
		Enabled                  *bool `yaml:"enabled"`
		ListenPort               int   `yaml:"listen_port"`
		PrometheusMetricsEnabled bool  `yaml:"prometheus_metrics_enabled"`
	} `yaml:"webserver"`
	Metrics struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"metrics"`
}

var defaultRulesFiles = []string{"/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.local.yaml", "/etc/falco/rules.d"}

func (c *config) webserverOn() bool { return c.Webserver.Enabled == nil || *c.Webserver.Enabled }
func (c *config) metricsOn() bool {
	return c.webserverOn() && c.Metrics.Enabled && c.Webserver.PrometheusMetricsEnabled
}

func loadConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Could not read configuration file %s: %w", path, err)
	}
	var raw struct {
		RulesFile        yaml.Node `yaml:"rules_file"`
		RulesFiles       yaml.Node `yaml:"rules_files"`
		WatchConfigFiles *bool     `yaml:"watch_config_files"`
	}
	c := &config{}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("Error loading configuration file %s: %w", path, err)
	}
	if err := yaml.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("Error loading configuration file %s: %w", path, err)
	}
	// 0.38+ reads rules_files; 0.32 reads rules_file. Accept either, plural first.
	node := &raw.RulesFiles
	if node.Kind == 0 {
		node = &raw.RulesFile
	}
	switch node.Kind {
	case 0:
		c.RulesFile = defaultRulesFiles
	case yaml.ScalarNode:
		c.RulesFile = []string{node.Value}
	default:
		if err := node.Decode(&c.RulesFile); err != nil {
			return nil, fmt.Errorf("Error loading configuration file %s: rules_file: %w", path, err)
		}
	}
	c.WatchConfigFiles = raw.WatchConfigFiles == nil || *raw.WatchConfigFiles
	if c.Webserver.ListenPort == 0 {
		c.Webserver.ListenPort = 8765
	}
	return c, nil
}

// expandRulesFiles lists the files Falco loads, in order: a folder contributes its regular files in
// name order (up to 0.40 every one, dot-files included; from 0.41 *.yaml and *.yml alone); a
// missing entry is skipped as Falco does.
func expandRulesFiles(entries []string, version string) ([]string, error) {
	var out []string
	for _, e := range entries {
		st, err := os.Stat(e)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("Could not read rules file %s: %w", e, err)
		}
		if !st.IsDir() {
			out = append(out, e)
			continue
		}
		des, err := os.ReadDir(e)
		if err != nil {
			return nil, fmt.Errorf("Could not read rules folder %s: %w", e, err)
		}
		var names []string
		for _, d := range des {
			if d.Type().IsRegular() && folderLoads(version, d.Name()) {
				names = append(names, d.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, filepath.Join(e, n))
		}
	}
	return out, nil
}

// folderLoads reports whether a version loads a file of that name from a rules folder.
func folderLoads(version, name string) bool {
	return everyFileOfFolder(version) || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
