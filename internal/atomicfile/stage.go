package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Stage picks the directory for the temporary file of a file in dir: dir
// itself or the nearest of its ancestors, up to top, that avoid does not
// refuse (avoid returns why not, or ""), that is on the same mount as dir
// (rename and link work only within one mount: the same st_dev is not
// enough where a file system is bind-mounted twice) and that can be
// written. A dir not created yet stands for its nearest existing ancestor.
func Stage(dir, top string, avoid func(dir string) string) (string, error) {
	dir, top = filepath.Clean(dir), filepath.Clean(top)
	base := dir
	for {
		if _, err := os.Stat(base); err == nil || base == top || base == filepath.Dir(base) {
			break
		}
		base = filepath.Dir(base)
	}
	var want unix.Statx_t
	if err := statx(base, &want); err != nil {
		return "", err
	}
	var tried []string
	for d := base; ; d = filepath.Dir(d) {
		why := avoid(d)
		if why == "" {
			var st unix.Statx_t
			switch err := statx(d, &st); {
			case err != nil:
				why = err.Error()
			case !sameMount(&st, &want):
				why = "another mount"
			default:
				if err := unix.Access(d, unix.W_OK); err != nil {
					why = "not writable: " + err.Error()
				}
			}
		}
		if why == "" {
			return d, nil
		}
		tried = append(tried, d+" ("+why+")")
		if d == top || d == filepath.Dir(d) || !strings.HasPrefix(d, top) {
			break
		}
	}
	return "", &NoStageError{Dir: dir, Tried: tried}
}

// NoStageError says that no directory fits a temporary file.
type NoStageError struct {
	Dir   string
	Tried []string // each directory with why it does not fit
}

func (e *NoStageError) Error() string {
	return fmt.Sprintf("no directory for a temporary file on the mount of %s outside Falco's rules folders: %s", e.Dir, strings.Join(e.Tried, ", "))
}

func statx(p string, st *unix.Statx_t) error {
	if err := unix.Statx(unix.AT_FDCWD, p, 0, unix.STATX_TYPE|unix.STATX_MNT_ID, st); err != nil {
		return &fs.PathError{Op: "statx", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &fs.PathError{Op: "stage", Path: p, Err: errors.New("not a directory")}
	}
	return nil
}

func sameMount(a, b *unix.Statx_t) bool {
	if a.Dev_major != b.Dev_major || a.Dev_minor != b.Dev_minor {
		return false
	}
	if a.Mask&b.Mask&unix.STATX_MNT_ID != 0 {
		return a.Mnt_id == b.Mnt_id
	}
	return true // a kernel before 5.8 tells no mount id: the device must do
}
