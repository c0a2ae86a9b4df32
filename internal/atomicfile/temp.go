package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// marker is in the name of every temporary file, after the target's name:
// ".falco_rules.yaml.rulekeeper-123456". Earlier versions made the same
// names, in the target's own directory.
const marker = ".rulekeeper-"

func tempPrefix(path string) string { return "." + filepath.Base(path) + marker }

// IsTemp reports whether a file name is one of rulekeeper's temporary files.
func IsTemp(name string) bool {
	i := strings.LastIndex(name, marker)
	if i < 1 || name[0] != '.' {
		return false
	}
	digits := name[i+len(marker):]
	if digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Sweep removes the temporary files a killed writer left in dir, and
// returns their paths. A file whose writer still runs (it holds the flock)
// is left alone. A missing dir holds nothing.
func Sweep(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var gone []string
	var errs []error
	for _, de := range des {
		if !de.Type().IsRegular() || !IsTemp(de.Name()) {
			continue
		}
		p := filepath.Join(dir, de.Name())
		removed, err := SweepFile(p)
		if err != nil {
			errs = append(errs, err)
		}
		if removed {
			gone = append(gone, p)
		}
	}
	return gone, errors.Join(errs...)
}

// SweepFile removes one temporary file unless its writer still holds it,
// and reports whether it did.
func SweepFile(p string) (bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // its writer finished meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil // being written
		}
		return false, err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}
