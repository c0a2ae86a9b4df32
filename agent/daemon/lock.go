package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// stateLock makes sure one daemon works on a state directory: a flock on
// daemon.lock in it, held from New until Run returns.
type stateLock struct{ f *os.File }

func lockDaemon(dir string) (*stateLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, "daemon.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("daemon lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another rulekeeper daemon runs on the state directory %s: stop it first", dir)
		}
		return nil, fmt.Errorf("daemon lock %s: %w", f.Name(), err)
	}
	return &stateLock{f}, nil
}

// release unlocks before it closes. A flock belongs to the open file, and
// a close only drops it when no other descriptor shares that file: a child
// the process forks at that moment (falco -V, a reload command, or another
// daemon's in the same process) holds a copy until its exec, or for its
// whole life when passed the descriptor, and the next daemon would be told
// another one still runs.
func (l *stateLock) release() {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}
