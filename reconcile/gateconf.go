package reconcile

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// plannedConfigArgs are the options that make `falco -V` read the config
// the plan leaves, not the one on disk: a falco.yaml the plan edits is
// given as a scratch copy in dir, and a config folder where the plan
// writes or removes a file as a scratch folder with the planned files
// (`-o config_files[i]=...`, which Falco reads before it merges them).
// names pairs each scratch path with the node path it stands for, so that
// Falco's messages can speak of the node's files.
func (p *Plan) plannedConfigArgs(dir string) (args, names []string, err error) {
	planned := map[string]*FileChange{}
	for _, fc := range p.Files {
		if p.isConfFile(fc.Path) {
			planned[fc.Path] = fc
		}
	}
	fc := planned[p.config]
	if fc == nil {
		if args, err = falcoConfigArgs(p.opts.Root, p.config); err != nil || len(planned) == 0 {
			return args, nil, err
		}
		return p.plannedFolders(dir, args, planned)
	}
	host := filepath.Join(dir, "falco.yaml")
	if err := os.WriteFile(host, fc.New, 0o600); err != nil {
		return nil, nil, err
	}
	if args, err = configArgs(p.opts.Root, p.config, fc.New, host); err != nil {
		return nil, nil, err
	}
	args, names, err = p.plannedFolders(dir, args, planned)
	return args, append(names, host, p.config), err
}

// plannedFolders adds a scratch copy of every config folder that holds a
// planned file: the folder's files as they are, the planned ones as the
// plan leaves them.
func (p *Plan) plannedFolders(dir string, args []string, planned map[string]*FileChange) (_, names []string, _ error) {
	for i, e := range p.conf.entries {
		if !e.folder {
			continue
		}
		files := map[string][]byte{}
		touched := false
		for _, f := range e.files {
			files[path.Base(f)] = p.cur[f]
		}
		for f, fc := range planned {
			if path.Dir(f) != e.path {
				continue
			}
			touched = true
			if fc.Action == Delete {
				delete(files, path.Base(f))
			} else {
				files[path.Base(f)] = fc.New
			}
		}
		if !touched {
			continue
		}
		scratch := filepath.Join(dir, fmt.Sprintf("config-%d", i))
		if err := os.Mkdir(scratch, 0o700); err != nil {
			return nil, nil, err
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(scratch, name), b, 0o600); err != nil {
				return nil, nil, err
			}
		}
		args = append(args, "-o", e.key+"="+scratch)
		names = append(names, scratch, e.path)
	}
	return args, names, nil
}
