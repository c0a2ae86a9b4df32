package source

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// errNoPath marks a Path that the commit does not have.
var errNoPath = errors.New("path not found")

// export writes the files of tree (the folder at sub of commit c) into a new directory and
// renames it to dst, so dst either does not exist or is a complete checkout. Symlinks and
// submodules are left out: the policy must be plain files inside the folder.
func export(c *object.Commit, sub, dst string) (skipped []string, err error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of commit %s: %w", c.Hash, err)
	}
	if sub != "" {
		tree, err = tree.Tree(sub)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return nil, fmt.Errorf("%w: folder %q does not exist at commit %s: fix path in the source settings or add the folder", errNoPath, sub, c.Hash)
		}
		if err != nil {
			return nil, fmt.Errorf("read folder %q of commit %s: %w", sub, c.Hash, err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	err = tree.Files().ForEach(func(f *object.File) error {
		if !safeName(f.Name) {
			return fmt.Errorf("commit %s has an unsafe file name %q", c.Hash, f.Name)
		}
		var perm os.FileMode = 0o644
		switch f.Mode {
		case filemode.Regular, filemode.Deprecated:
		case filemode.Executable:
			perm = 0o755
		default:
			skipped = append(skipped, f.Name)
			return nil
		}
		return writeBlob(f, filepath.Join(tmp, filepath.FromSlash(f.Name)), perm)
	})
	if err != nil {
		return nil, err
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, err
	}
	return skipped, syncDir(filepath.Dir(dst))
}

// safeName refuses names that would leave the checkout directory; git itself rejects them, but
// a hostile server need not be git.
func safeName(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.EqualFold(part, ".git") || strings.ContainsRune(part, '\\') {
			return false
		}
	}
	return true
}

func writeBlob(f *object.File, file string, perm os.FileMode) (err error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	r, err := f.Reader()
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Name, err)
	}
	defer r.Close()
	w, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("write %s: %w", f.Name, err)
	}
	// A checkout that exists is trusted as complete after a crash, so its bytes must be on disk.
	return w.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
