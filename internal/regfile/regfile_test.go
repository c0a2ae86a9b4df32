package regfile

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Each kind of path that is not a regular file is refused at once, also
// behind a symlink, without reading a byte or waiting for a writer.
func TestNotRegularRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock.yaml")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	fifoLink := filepath.Join(dir, "fifo-link.yaml")
	if err := os.Symlink(fifo, fifoLink); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, kind string }{
		{zero, "a character device"},
		{"/dev/null", "a character device"},
		{fifo, "a FIFO"},
		{fifoLink, "a FIFO"},
		{sock, "a socket"},
		{dir, "a directory"},
	} {
		done := make(chan error, 1)
		go func() { _, err := Read(tc.path, 1<<20); done <- err }()
		select {
		case err := <-done:
			var nr *NotRegularError
			if !errors.As(err, &nr) || Kind(nr.Mode) != tc.kind {
				t.Errorf("%s: %v, want %s", tc.path, err, tc.kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Read still waits after 5 s", tc.path)
		}
	}
}

// The cap holds whether the size is known up front (a sparse file claims
// 17 MiB and is refused before a read) or not (a /proc file says 0 bytes).
func TestCap(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(17 << 20)
	f.Close()
	var tl *TooLargeError
	if _, err := Read(big, 16<<20); !errors.As(err, &tl) || tl.Size != 17<<20 || tl.Limit != 16<<20 {
		t.Errorf("sparse 17 MiB file: %v", err)
	}
	if _, err := Read("/proc/self/status", 10); !errors.As(err, &tl) || tl.Size != 11 {
		t.Errorf("a file of unknown size over the cap: %v", err)
	}
	if b, err := Read("/proc/self/status", 1<<20); err != nil || !bytes.Contains(b, []byte("Pid:")) {
		t.Errorf("a file of unknown size under the cap: %v", err)
	}
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 100000} {
		want := bytes.Repeat([]byte("x"), n)
		p := filepath.Join(dir, "exact")
		os.WriteFile(p, want, 0o644)
		if got, err := Read(p, int64(n)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d bytes with a cap of %d: %d bytes, %v", n, n, len(got), err)
		}
		if n > 0 {
			if _, err := Read(p, int64(n-1)); !errors.As(err, &tl) {
				t.Errorf("%d bytes with a cap of %d: %v", n, n-1, err)
			}
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), 10); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want an error os.IsNotExist recognises", err)
	}
}
