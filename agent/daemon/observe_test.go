package daemon

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A managed file is kept whole up to maxKept; a larger one in its place, a
// file rulekeeper does not manage, a FIFO and a missing file are not read
// into memory.
func TestObserveBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("- list: x\n  items: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o := observeFile(small, true); o == nil || string(o.Data) != "- list: x\n  items: []\n" || o.Sum != sha256.Sum256(o.Data) {
		t.Fatalf("a small managed file: %+v", o)
	}
	if o := observeFile(small, false); o == nil || o.Data != nil || o.Size != 22 || o.Sum != sha256.Sum256([]byte("- list: x\n  items: []\n")) {
		t.Fatalf("a file not managed: %+v", o)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, maxKept+1); err != nil { // sparse: no disk, same bytes to read
		t.Fatal(err)
	}
	if o := observeFile(big, true); o == nil || o.Data != nil || o.Size != maxKept+1 {
		t.Fatalf("a managed file over maxKept: size %d, kept %d bytes", o.Size, len(o.Data))
	}
	if err := os.Truncate(big, maxKept); err != nil {
		t.Fatal(err)
	}
	if o := observeFile(big, true); o == nil || len(o.Data) != maxKept {
		t.Fatalf("a managed file of maxKept bytes is not kept whole: %+v", o != nil)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if o := observeFile(fifo, true); o != nil {
		t.Fatalf("a FIFO: %+v", o)
	}
	if o := observeFile(filepath.Join(dir, "missing.yaml"), true); o != nil {
		t.Fatalf("a missing file: %+v", o)
	}
}
