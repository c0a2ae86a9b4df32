package reconcile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
	"github.com/rulekeeper/rulekeeper/internal/noderoot"
)

// stage picks the folder for the temporary file of a rules file (a host
// path, symlinks resolved): its own folder, unless Falco loads that folder
// whole (up to 0.40 it loads every regular file there, a half-written one
// included, and 0.32.1 restarts on any file created there), else the
// nearest parent folder on the same mount, so that the final rename or link
// stays atomic.
func (p *Plan) stage(host string) (string, error) {
	folders := p.rulesFolders()
	dir := filepath.Dir(host)
	if folders(dir) == "" {
		if _, err := os.Stat(dir); err == nil {
			// A plain folder rulekeeper may not write: say so plainly.
			if err := unix.Access(dir, unix.W_OK); err != nil {
				return "", &os.PathError{Op: "write", Path: dir, Err: err}
			}
		}
	}
	s, err := atomicfile.Stage(dir, hostPath(p.opts.Root, "/"), folders)
	var ns *atomicfile.NoStageError
	if errors.As(err, &ns) {
		return "", fmt.Errorf("%w: rulekeeper writes a new rules file elsewhere on its mount first and then moves it into place, so that Falco never loads a half-written file; give rulekeeper write access to a parent folder of %s on the same mount", err, filepath.Dir(host))
	}
	return s, err
}

// rulesFolders returns a check that refuses the folders Falco loads whole:
// the folders in its rules list and the agent-owned file's folder. Folders
// are told by their inode, so that another path to one (a symlink) is
// refused too.
func (p *Plan) rulesFolders() func(dir string) string {
	if p.folderCheck == nil {
		p.folderCheck = p.makeFolderCheck()
	}
	return p.folderCheck
}

func (p *Plan) makeFolderCheck() func(dir string) string {
	type id struct{ dev, ino uint64 }
	folders := map[id]string{}
	add := func(f, what string) {
		h, err := noderoot.Host(p.opts.Root, f)
		if err != nil {
			return
		}
		if fi, err := os.Stat(h); err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			folders[id{st.Dev, st.Ino}] = what
		}
	}
	list := slices.Clone(p.folders)
	if p.own != "" {
		list = append(list, path.Dir(p.own))
	}
	for _, f := range list {
		add(f, "the rules folder "+f+", which Falco loads whole")
	}
	if p.conf != nil { // Falco (0.38 through 0.44.1) merges every regular file of a config folder, dot-files too
		for _, e := range p.conf.entries {
			if e.folder {
				add(e.path, "the config folder "+e.path+", which Falco merges whole")
			}
		}
	}
	return func(dir string) string {
		fi, err := os.Stat(dir)
		if err != nil {
			return ""
		}
		st := fi.Sys().(*syscall.Stat_t)
		if what, ok := folders[id{st.Dev, st.Ino}]; ok {
			return what
		}
		return ""
	}
}

// sweep removes the temporary files a killed pass left: in the rules
// folders (where earlier versions of rulekeeper made them, and where Falco
// loads them), in the folders where this version stages the files it
// manages, and in the state directory. It runs under the state lock, on
// every pass, converged or not; what it cannot remove stays for the next.
func (p *Plan) sweep() []string {
	var gone []string
	for _, s := range p.strays {
		if ok, _ := atomicfile.SweepFile(s); ok {
			gone = append(gone, nodePath(p.opts.Root, s))
		}
	}
	dirs := []string{p.opts.StatePath()}
	files := []string{p.own}
	if p.next != nil {
		for f := range p.next.Files {
			files = append(files, f)
		}
	}
	for _, fc := range p.Files {
		files = append(files, fc.Path)
	}
	slices.Sort(files)
	for _, f := range slices.Compact(files) {
		if f == "" {
			continue
		}
		host, err := noderoot.Host(p.opts.Root, f)
		if err != nil {
			continue
		}
		s := filepath.Dir(host) // a file outside the rules folders stages beside itself
		if p.rulesFolders()(s) != "" {
			if s, err = p.stage(host); err != nil {
				continue
			}
		}
		if !slices.Contains(dirs, s) {
			dirs = append(dirs, s)
		}
	}
	for _, d := range dirs {
		swept, _ := atomicfile.Sweep(d)
		for _, s := range swept {
			gone = append(gone, nodePath(p.opts.Root, s))
		}
	}
	return gone
}
