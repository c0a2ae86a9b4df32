// Package noderoot maps the node's paths into a sandbox root (`--root`), so
// that every command can work on a copy of a node.
package noderoot

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Live reports whether root is the running system's own /.
func Live(root string) bool { return root == "" || filepath.Clean(root) == "/" }

// Join maps an absolute node path into root.
func Join(root, p string) string {
	if Live(root) {
		return p
	}
	return filepath.Join(root, p)
}

// maxLinks is the kernel's limit on symlinks followed in one lookup
// (MAXSYMLINKS); beyond it the lookup fails with ELOOP.
const maxLinks = 40

// Resolve follows every symlink on the node path p as the node itself would,
// that is as chroot(root) does: an absolute link target starts again at
// root and ".." stops at root, so that nothing inside a sandbox leads to the
// host's files. It returns the node path that p leads to, and whether a
// symlink was followed on the way. Parts that do not exist (yet) are kept
// as they are: the path of a file about to be created resolves too.
func Resolve(root, p string) (real string, viaLink bool, err error) {
	if !path.IsAbs(p) {
		return "", false, &fs.PathError{Op: "resolve", Path: p, Err: errors.New("not an absolute node path")}
	}
	todo := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur := "/"
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur) // the parent of "/" is "/": root is the top
			continue
		}
		next := path.Join(cur, name)
		fi, err := os.Lstat(Join(root, next))
		if errors.Is(err, fs.ErrNotExist) {
			// The rest cannot hold links yet: keep it as written.
			return path.Join(append([]string{next}, todo...)...), viaLink, nil
		}
		if err != nil {
			return "", viaLink, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return "", viaLink, &fs.PathError{Op: "resolve", Path: next, Err: syscall.ENOTDIR}
			}
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", true, &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		viaLink = true
		target, err := os.Readlink(Join(root, next))
		if err != nil {
			return "", true, err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, viaLink, nil
}

// Host is the host path a node path leads to: Join of its Resolve. On the
// live system the kernel resolves paths itself and p is returned as is.
func Host(root, p string) (string, error) {
	if Live(root) {
		return p, nil
	}
	real, _, err := Resolve(root, p)
	if err != nil {
		return "", err
	}
	return Join(root, real), nil
}
