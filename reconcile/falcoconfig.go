package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"go.yaml.in/yaml/v3"

	"github.com/rulekeeper/rulekeeper/internal/noderoot"
)

// falcoPluginsDir is where Falco looks a plugin's relative library_path up
// (FALCO_ENGINE_PLUGINS_DIR, the same in 0.32.1 through 0.44.1).
const falcoPluginsDir = "/usr/share/falco/plugins"

var liveRoot = noderoot.Live

// falcoConfigArgs are the options that make `falco -V` read the node's
// config: without one Falco refuses to start, and from 0.41 the container
// fields come only from the plugin the config loads.
//
// In a --root sandbox the config is the one inside the root, and its paths
// are node paths, as a Falco chrooted there would read them: the files of
// config_files and every plugin's library_path (an absolute one, and a
// relative one in Falco's plugins folder) are taken under the root, never
// from the host. Plugins named in config.d files keep their paths.
func falcoConfigArgs(root, config string) ([]string, error) {
	data, err := ReadRulesFile(root, config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("falco -V needs Falco's config and %s does not exist: name the node's config with config in the policy's falco block, or turn the check off with --falco none", config)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config, readHint(err))
	}
	host, err := noderoot.Host(root, config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config, err)
	}
	return configArgs(root, config, data, host)
}

// configArgs are falcoConfigArgs for the config data of the node path
// config, given to Falco as the host file host (the node's, or a scratch
// copy of the planned one).
func configArgs(root, config string, data []byte, host string) ([]string, error) {
	args := []string{"-c", host}
	if liveRoot(root) {
		return args, nil
	}
	var c struct {
		ConfigFiles []yaml.Node `yaml:"config_files"`
		Plugins     []struct {
			LibraryPath string `yaml:"library_path"`
		} `yaml:"plugins"`
	}
	if err := unmarshal(topLevelKeys(data, "config_files", "plugins"), &c); err != nil {
		return nil, fmt.Errorf("%s: %w (Falco could not read it either)", config, yamlError(err))
	}
	for i, n := range c.ConfigFiles {
		key, p := fmt.Sprintf("config_files[%d]", i), n.Value
		if n.Kind == yaml.MappingNode { // {path: ..., strategy: ...}
			var e struct{ Path string }
			if n.Decode(&e) != nil {
				continue
			}
			key, p = key+".path", e.Path
		}
		if path.IsAbs(p) {
			args = append(args, "-o", key+"="+hostPath(root, p))
		}
	}
	for i, pl := range c.Plugins {
		lp := pl.LibraryPath
		if lp == "" {
			continue
		}
		if !path.IsAbs(lp) {
			lp = path.Join(falcoPluginsDir, lp)
		}
		args = append(args, "-o", fmt.Sprintf("plugins[%d].library_path=%s", i, hostPath(root, lp)))
	}
	return args, nil
}
