// Package noderoot maps the node's paths into a sandbox root (`--root`), so
// that every command can work on a copy of a node.
package noderoot

import "path/filepath"

// Live reports whether root is the running system's own /.
func Live(root string) bool { return root == "" || filepath.Clean(root) == "/" }

// Join maps an absolute node path into root.
func Join(root, p string) string {
	if Live(root) {
		return p
	}
	return filepath.Join(root, p)
}
