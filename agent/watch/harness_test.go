package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// harness runs a Watcher over real files with real inotify. Its barrier makes "nothing was reported"
// checkable without sleeping: it writes a sentinel file the watcher also watches and collects
// notifications until the sentinel shows up. inotify delivers events in order, so anything the step
// caused was seen before the sentinel and is in what the barrier returns.
type harness struct {
	t        *testing.T
	root     string
	w        *Watcher
	ch       chan []string
	sentinel string
}

const waitLimit = 5 * time.Second

func startHarness(t *testing.T, root string, quiet time.Duration, paths ...string) *harness {
	t.Helper()
	h := &harness{t: t, root: root, ch: make(chan []string, 100)}
	h.sentinel = filepath.Join(t.TempDir(), "sentinel.yaml")
	w, err := New(h.abs(paths...), quiet, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, func(p []string) { h.ch <- p }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// abs makes paths relative to the root absolute and adds the sentinel.
func (h *harness) abs(paths ...string) []string {
	out := []string{h.sentinel}
	for _, p := range paths {
		out = append(out, filepath.Join(h.root, p)+trailingSlash(p))
	}
	return out
}

func trailingSlash(p string) string {
	if len(p) > 0 && p[len(p)-1] == '/' {
		return "/"
	}
	return ""
}

func (h *harness) setFiles(paths ...string) {
	h.t.Helper()
	if err := h.w.SetFiles(h.abs(paths...)); err != nil {
		h.t.Fatalf("SetFiles: %v", err)
	}
}

// next waits for one notification and returns its paths relative to the root.
func (h *harness) next() []string {
	h.t.Helper()
	select {
	case p := <-h.ch:
		return h.rel(p)
	case <-time.After(waitLimit):
		h.t.Fatalf("no notification within %v", waitLimit)
		return nil
	}
}

// barrier returns every path reported (sentinel aside) up to and including the sentinel's report.
func (h *harness) barrier() []string {
	h.t.Helper()
	if err := os.WriteFile(h.sentinel, []byte(time.Now().String()), 0o644); err != nil {
		h.t.Fatal(err)
	}
	var all []string
	for {
		p := h.next()
		for _, x := range p {
			if x != "SENTINEL" && !slices.Contains(all, x) {
				all = append(all, x)
			}
		}
		if slices.Contains(p, "SENTINEL") {
			slices.Sort(all)
			return all
		}
	}
}

func (h *harness) rel(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if p == h.sentinel {
			out = append(out, "SENTINEL")
			continue
		}
		r, err := filepath.Rel(h.root, p)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// Helpers acting on the file system the way real tools do.

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceByRename writes a temporary file beside path and renames it over path, as editors and dpkg do.
func replaceByRename(t *testing.T, path, tmpName, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), tmpName)
	mustWrite(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
