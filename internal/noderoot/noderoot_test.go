package noderoot

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Symlinks inside a sandbox resolve inside it, as chroot would: an absolute
// target starts again at the root, ".." stops there, nothing reaches the
// host's files.
func TestResolveStaysInRoot(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("etc/falco/vendor")
	mk("srv/rules")
	os.WriteFile(filepath.Join(root, "etc/falco/vendor/rules.yaml"), []byte("- list: x\n  items: []\n"), 0o644)
	ln("/etc/falco/vendor/rules.yaml", "etc/falco/abs.yaml")      // absolute: inside the root
	ln("vendor/rules.yaml", "etc/falco/rel.yaml")                 // relative
	ln("/srv/rules", "etc/falco/rules.d")                         // a linked directory
	ln("../../../../../../../../etc/passwd", "etc/falco/up.yaml") // ".." stops at the root
	ln("/etc/passwd", "etc/falco/host.yaml")                      // the host's /etc/passwd is not reached
	ln("loop2", "etc/falco/loop1")
	ln("loop1", "etc/falco/loop2")
	ln("abs.yaml", "etc/falco/chain.yaml")

	for _, tc := range []struct {
		p, want string
		link    bool
	}{
		{"/etc/falco/abs.yaml", "/etc/falco/vendor/rules.yaml", true},
		{"/etc/falco/rel.yaml", "/etc/falco/vendor/rules.yaml", true},
		{"/etc/falco/chain.yaml", "/etc/falco/vendor/rules.yaml", true},
		{"/etc/falco/rules.d/50-x.yaml", "/srv/rules/50-x.yaml", true},
		{"/etc/falco/up.yaml", "/etc/passwd", true},
		{"/etc/falco/host.yaml", "/etc/passwd", true},
		{"/etc/falco/vendor/rules.yaml", "/etc/falco/vendor/rules.yaml", false},
		{"/etc/falco/missing/x.yaml", "/etc/falco/missing/x.yaml", false},
		{"/etc/falco/../../..", "/", false},
	} {
		got, link, err := Resolve(root, tc.p)
		if err != nil || got != tc.want || link != tc.link {
			t.Errorf("Resolve(%s) = %s, %v, %v; want %s, %v", tc.p, got, link, err, tc.want, tc.link)
		}
	}
	if h, err := Host(root, "/etc/falco/host.yaml"); err != nil || h != filepath.Join(root, "etc/passwd") {
		t.Errorf("Host = %s, %v; want the sandbox's own /etc/passwd", h, err)
	}
	if _, _, err := Resolve(root, "/etc/falco/loop1"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a symlink loop: %v, want ELOOP", err)
	}
	if _, _, err := Resolve(root, "/etc/falco/vendor/rules.yaml/x"); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("a file used as a directory: %v, want ENOTDIR", err)
	}
	if _, _, err := Resolve(root, "etc/falco"); err == nil {
		t.Error("a relative node path was accepted")
	}
}

// On the live system the kernel resolves paths: Host leaves them alone.
func TestHostLive(t *testing.T) {
	for _, root := range []string{"", "/", "//"} {
		if h, err := Host(root, "/etc/falco/falco_rules.yaml"); err != nil || h != "/etc/falco/falco_rules.yaml" {
			t.Errorf("Host(%q) = %s, %v", root, h, err)
		}
	}
}
