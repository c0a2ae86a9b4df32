// Package regfile reads files that must be regular files of bounded size.
// A device, a FIFO or a socket (also behind a symlink) is refused before a
// byte is read, and no file is read past a cap, whatever its size said: a
// symlink to /dev/zero or a FIFO must not hang a pass or eat its memory.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// NotRegularError is a path that leads to something other than a regular file.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// TooLargeError is a regular file over the cap. Size is what was seen: at
// least Limit+1 when the file grew while it was read.
type TooLargeError struct {
	Path        string
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, over the limit of %d", e.Path, e.Size, e.Limit)
}

// Kind names a file type for messages: "a character device", "a FIFO", ...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a file (" + m.Type().String() + ")"
}

// Open opens path for reading and checks, on the open file, that it is a
// regular file. O_NONBLOCK keeps the open of a FIFO from waiting for a
// writer; checking after the open (fstat) leaves no gap in which the path
// could be swapped for something else. Errors from the open itself are
// returned as they are, so that os.IsNotExist and the like still answer.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		// A socket cannot be opened at all ("no such device or address"):
		// say what it is instead.
		if fi, serr := os.Stat(path); serr == nil && !fi.Mode().IsRegular() {
			return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// MaxRulesFile is the cap on one rules file, wherever rulekeeper reads
// one: on the node (reconcile.MaxRulesFileSize) and in the policy folder (a
// whole rules file a policy ships).
const MaxRulesFile = 4 << 20

// Read returns the content of the regular file at path, at most limit
// bytes; a larger file is a *TooLargeError, found from its size before
// reading or, for a file that grows or does not tell its size, after
// limit+1 bytes.
func Read(path string, limit int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := fi.Size()
	if size > limit {
		return nil, &TooLargeError{Path: path, Size: size, Limit: limit}
	}
	// Sized from the stat, with room to see the end of the file without
	// growing the buffer (as os.ReadFile does).
	buf := make([]byte, 0, size+512)
	r := io.LimitReader(f, limit+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
	if int64(len(buf)) > limit {
		return nil, &TooLargeError{Path: path, Size: int64(len(buf)), Limit: limit}
	}
	return buf, nil
}
