package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	rules  = "etc/falco/falco_rules.yaml"
	local  = "etc/falco/falco_rules.local.yaml"
	rulesD = "etc/falco/rules.d"
)

// step is one moment of a timeline: do something to the files, then expect exactly these paths
// (relative to the test's root) to have been reported; nil means nothing.
type step struct {
	name string
	do   func(t *testing.T, root string)
	want []string
}

func write(rel, content string) func(*testing.T, string) {
	return func(t *testing.T, root string) { mustWrite(t, filepath.Join(root, rel), content) }
}

func rename(rel, tmpName, content string) func(*testing.T, string) {
	return func(t *testing.T, root string) { replaceByRename(t, filepath.Join(root, rel), tmpName, content) }
}

func remove(rel string) func(*testing.T, string) {
	return func(t *testing.T, root string) { must(t, os.RemoveAll(filepath.Join(root, rel))) }
}

func mkdir(rel string) func(*testing.T, string) {
	return func(t *testing.T, root string) { must(t, os.MkdirAll(filepath.Join(root, rel), 0o755)) }
}

func TestTimelines(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		watch []string
		steps []step
	}{
		{
			name:  "file edits",
			setup: write(rules, "- rule: a\n"),
			watch: []string{rules, local},
			steps: []step{
				{"write in place", write(rules, "- rule: b\n"), []string{rules}},
				{"editor: temp file then rename", rename(rules, ".falco_rules.yaml.swp", "- rule: c\n"), []string{rules}},
				{"dpkg: .dpkg-new then rename", rename(rules, "falco_rules.yaml.dpkg-new", "- rule: d\n"), []string{rules}},
				{"chmod only", func(t *testing.T, root string) { must(t, os.Chmod(filepath.Join(root, rules), 0o600)) }, nil},
				{"touch only", func(t *testing.T, root string) {
					now := time.Now()
					must(t, os.Chtimes(filepath.Join(root, rules), now, now))
				}, nil},
				{"unrelated file in the same directory", write("etc/falco/falco.yaml", "x: 1\n"), nil},
				{"unrelated file renamed in the same directory", rename("etc/falco/other.yaml", "other.tmp", "x\n"), nil},
				{"remove the file", remove(rules), []string{rules}},
				{"create it again", write(rules, "- rule: e\n"), []string{rules}},
				{"a watched file that did not exist", write(local, "- rule: l\n"), []string{local}},
			},
		},
		{
			name:  "directory removed and recreated",
			setup: write(rules, "- rule: a\n"),
			watch: []string{rules},
			steps: []step{
				{"rm -rf the directory", remove("etc/falco"), []string{rules}},
				{"write while it is gone", write("etc/other/x.yaml", "x\n"), nil},
				{"mkdir again", mkdir("etc/falco"), []string{rules}},
				{"write in the new directory", write(rules, "- rule: b\n"), []string{rules}},
				{"rm -rf the parent too", remove("etc"), []string{rules}},
				{"mkdir -p back", mkdir("etc/falco"), []string{rules}},
				{"write again", write(rules, "- rule: c\n"), []string{rules}},
				{"rename the directory away", func(t *testing.T, root string) {
					must(t, os.Rename(filepath.Join(root, "etc/falco"), filepath.Join(root, "etc/falco.old")))
				}, []string{rules}},
				{"write in the moved directory", write("etc/falco.old/falco_rules.yaml", "- rule: old\n"), nil},
				{"rename it back", func(t *testing.T, root string) {
					must(t, os.Rename(filepath.Join(root, "etc/falco.old"), filepath.Join(root, "etc/falco")))
				}, []string{rules}},
				{"write after it came back", write(rules, "- rule: d\n"), []string{rules}},
			},
		},
		{
			name:  "rules.d watched whole",
			setup: mkdir(rulesD),
			watch: []string{rulesD},
			steps: []step{
				{"new yaml file", write(rulesD+"/a.yaml", "- rule: a\n"), []string{rulesD + "/a.yaml"}},
				{"new yml file", write(rulesD+"/b.yml", "- rule: b\n"), []string{rulesD + "/b.yml"}},
				{"not a rules file", write(rulesD+"/README.txt", "hi\n"), nil},
				{"hidden editor file", write(rulesD+"/.a.yaml", "swap\n"), nil},
				{"edit in place", write(rulesD+"/a.yaml", "- rule: a2\n"), []string{rulesD + "/a.yaml"}},
				{"rename a to c", func(t *testing.T, root string) {
					must(t, os.Rename(filepath.Join(root, rulesD, "a.yaml"), filepath.Join(root, rulesD, "c.yaml")))
				}, []string{rulesD + "/a.yaml", rulesD + "/c.yaml"}},
				{"remove one", remove(rulesD + "/b.yml"), []string{rulesD + "/b.yml"}},
				{"subdirectory is not loaded by Falco", write(rulesD+"/sub/x.yaml", "x\n"), nil},
				{"rm -rf rules.d", remove(rulesD), []string{rulesD, rulesD + "/c.yaml"}},
				{"mkdir rules.d", mkdir(rulesD), []string{rulesD}},
				{"file in the new rules.d", write(rulesD+"/d.yaml", "- rule: d\n"), []string{rulesD + "/d.yaml"}},
			},
		},
		{
			name:  "paths missing at start",
			setup: mkdir("etc"),
			watch: []string{rules, rulesD + "/"},
			steps: []step{
				{"mkdir -p rules.d", mkdir(rulesD), []string{rules, rulesD}},
				{"vendor file appears", write(rules, "- rule: a\n"), []string{rules}},
				{"rules.d file appears", write(rulesD+"/x.yaml", "- rule: x\n"), []string{rulesD + "/x.yaml"}},
			},
		},
		{
			name: "symlinked directory",
			setup: func(t *testing.T, root string) {
				mustWrite(t, filepath.Join(root, "real1/falco_rules.yaml"), "- rule: a\n")
				mustWrite(t, filepath.Join(root, "real2/falco_rules.yaml"), "- rule: b\n")
				must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
				must(t, os.Symlink(filepath.Join(root, "real1"), filepath.Join(root, "etc/falco")))
			},
			watch: []string{rules},
			steps: []step{
				{"write through the real path", write("real1/falco_rules.yaml", "- rule: a2\n"), []string{rules}},
				{"write through the link", write(rules, "- rule: a3\n"), []string{rules}},
				{"re-point the link (ln -sfn)", func(t *testing.T, root string) {
					tmp := filepath.Join(root, "etc/.falco.tmp")
					must(t, os.Symlink(filepath.Join(root, "real2"), tmp))
					must(t, os.Rename(tmp, filepath.Join(root, "etc/falco")))
				}, []string{rules}},
				{"write the new target", write("real2/falco_rules.yaml", "- rule: b2\n"), []string{rules}},
				{"write the old target", write("real1/falco_rules.yaml", "- rule: a4\n"), nil},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.setup(t, root)
			h := startHarness(t, root, 30*time.Millisecond, tc.watch...)
			for _, s := range tc.steps {
				s.do(t, root)
				got := h.barrier()
				want := slices.Clone(s.want)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("step %q: reported %q, want %q", s.name, got, want)
				}
			}
		})
	}
}

func TestBurstGivesOneNotification(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, rules), "x\n")
	// The quiet period is wide enough that a loaded machine still writes the 50 files within it.
	h := startHarness(t, root, 100*time.Millisecond, rules)
	for i := range 50 {
		if i%2 == 0 {
			mustWrite(t, filepath.Join(root, rules), strings.Repeat("x", i)+"\n")
		} else {
			replaceByRename(t, filepath.Join(root, rules), "tmp", strings.Repeat("y", i)+"\n")
		}
	}
	if got := h.next(); !slices.Equal(got, []string{rules}) {
		t.Fatalf("first notification %q, want %q", got, rules)
	}
	if got := h.barrier(); len(got) != 0 {
		t.Fatalf("a second notification followed the burst: %q", got)
	}
}

func TestWriterThatNeverPausesIsReportedWithinMaxWait(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, rules)
	mustWrite(t, path, "x\n")
	quiet := 50 * time.Millisecond
	h := startHarness(t, root, quiet, rules)
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(quiet / 5):
				if err := os.WriteFile(path, []byte(strings.Repeat("z", i%100)), 0o644); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	got := h.next()
	elapsed := time.Since(start)
	close(stop)
	<-done
	if !slices.Equal(got, []string{rules}) {
		t.Fatalf("notified %q, want %q", got, rules)
	}
	if elapsed < MaxWait(quiet) || elapsed > MaxWait(quiet)+time.Second {
		t.Fatalf("notified after %v, want about MaxWait = %v", elapsed, MaxWait(quiet))
	}
}

func TestSetFiles(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, rules), "x\n")
	mustWrite(t, filepath.Join(root, "opt/rules/extra.yaml"), "x\n")
	h := startHarness(t, root, 30*time.Millisecond, rules)

	h.setFiles("opt/rules/extra.yaml")
	mustWrite(t, filepath.Join(root, rules), "y\n")
	if got := h.barrier(); len(got) != 0 {
		t.Fatalf("a file dropped from the set was reported: %q", got)
	}
	mustWrite(t, filepath.Join(root, "opt/rules/extra.yaml"), "y\n")
	if got := h.barrier(); !slices.Equal(got, []string{"opt/rules/extra.yaml"}) {
		t.Fatalf("reported %q, want the new file", got)
	}
	// The old directory's watches are gone, not merely filtered.
	for _, p := range h.w.fs.WatchList() {
		if strings.HasPrefix(p, filepath.Join(root, "etc/falco")) {
			t.Errorf("watch on %s kept after SetFiles dropped it", p)
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := New([]string{"/tmp/x"}, 0, nil); err == nil || !strings.Contains(err.Error(), "quiet period") {
		t.Errorf("quiet 0: got %v, want an error about the quiet period", err)
	}
	if _, err := New([]string{""}, time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "empty path") {
		t.Errorf("empty path: got %v, want an error about the empty path", err)
	}
}

// When the kernel's queue overflows, events were lost, so every watched path may have changed.
func TestQueueOverflowReportsEverything(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, rules), "x\n")
	must(t, os.MkdirAll(filepath.Join(root, rulesD), 0o755))
	w, err := New([]string{filepath.Join(root, rules), filepath.Join(root, rulesD)}, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads events until Run starts, so the kernel queue (fs.inotify.max_queued_events,
	// 16384 by default) overflows. The files are not rules files: only the overflow can report.
	max := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(b), &max)
	}
	for i := range max + 100 {
		f, err := os.Create(filepath.Join(root, rulesD, fmt.Sprintf("n%d.txt", i)))
		must(t, err)
		must(t, f.Close())
	}
	ch := make(chan []string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, func(p []string) { ch <- p })
	want := []string{filepath.Join(root, rules), filepath.Join(root, rulesD)}
	select {
	case got := <-ch:
		if !slices.Equal(got, want) {
			t.Fatalf("after overflow reported %q, want %q", got, want)
		}
	case <-time.After(waitLimit):
		t.Fatal("no notification after the queue overflowed")
	}
}

// mkdir -p makes each level right after the one above it. When a level appears between the check that
// it is missing and the watch on the level above, that watch never gets its create event; the
// watcher must find the level by looking again, or a file written in it later goes unseen.
func TestDirectoryCreatedJustBeforeItsParentsWatch(t *testing.T) {
	root := t.TempDir()
	mkdir("etc")(t, root)
	h := startHarness(t, root, 30*time.Millisecond, rulesD+"/")
	falco, sub := filepath.Join(root, "etc/falco"), filepath.Join(root, rulesD)
	h.w.mu.Lock()
	h.w.addWatch = func(d string) error {
		if d == falco {
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Error(err) // from Run's goroutine: no Fatal
			}
		}
		return h.w.fs.Add(d)
	}
	h.w.mu.Unlock()
	mkdir("etc/falco")(t, root)
	if got := h.barrier(); !slices.Equal(got, []string{rulesD}) {
		t.Fatalf("after mkdir: reported %q, want %q", got, rulesD)
	}
	write(rulesD+"/x.yaml", "- rule: x\n")(t, root)
	if got, want := h.barrier(), []string{rulesD + "/x.yaml"}; !slices.Equal(got, want) {
		t.Fatalf("a file written in the directory made before the watch: reported %q, want %q", got, want)
	}
}
