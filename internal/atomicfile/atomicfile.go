// Package atomicfile replaces files so that a reader, or a crash, sees the
// old file or the new one and never a mix, and so that no program that
// loads every file of a folder (Falco up to 0.40 loads every regular file of
// a rules folder, dot-files included) ever meets a half-written one.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Write replaces path with data, the temporary file in path's own
// directory: for files that no program loads by folder (rulekeeper's state).
func Write(path string, data []byte, mode fs.FileMode) error {
	return WriteStaged(path, filepath.Dir(path), data, mode)
}

// WriteMkdir is Write after creating the missing directories with dirMode.
func WriteMkdir(path string, data []byte, mode, dirMode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return err
	}
	return Write(path, data, mode)
}

// WriteStaged replaces path with data. The bytes go to a temporary file in
// stage (a directory on the same mount as path's, see Stage), are synced,
// and then take path's name in one step: rename(2) over an existing file,
// link(2) for a new one, so that the name appears complete and watchers see
// it created (Falco 0.32.1 restarts on IN_CREATE in a rules folder, not on a
// file moved in). The directory is synced last. An existing file keeps its
// mode and owner; a new one gets mode. The temporary file is flocked until
// it is gone, so that Sweep never takes one that is being written.
func WriteStaged(path, stage string, data []byte, mode fs.FileMode) error {
	uid, gid := -1, -1
	exists := false
	if fi, err := os.Stat(path); err == nil {
		exists = true
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(stage, tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	open, named := true, true // the file to close, the temporary name to remove
	defer func() {
		if open {
			tmp.Close()
		}
		if named {
			os.Remove(tmp.Name())
		}
	}()
	// The lock is held through a read-only descriptor, closed last: the
	// write descriptor closes before the file takes its name (a close after
	// would tell watchers of the target's folder of one more write), and
	// Sweep must not take the file in between.
	lk, err := os.Open(tmp.Name())
	if err != nil {
		return err
	}
	defer lk.Close()
	if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("locking %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if uid >= 0 && (uid != os.Getuid() || gid != os.Getgid()) {
		if err := tmp.Chown(uid, gid); err != nil {
			return fmt.Errorf("keeping the owner %d:%d: %w", uid, gid, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	open = false
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := publish(tmp.Name(), path, exists); err != nil {
		return err
	}
	named = false
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// publish gives the synced temporary file the target's name.
func publish(tmp, path string, exists bool) error {
	if !exists {
		err := os.Link(tmp, path)
		if err == nil {
			return os.Remove(tmp)
		}
		// Created meanwhile (EEXIST), or a file system without hard links:
		// rename, which is as atomic.
		if !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.EMLINK) {
			return err
		}
	}
	return os.Rename(tmp, path)
}
