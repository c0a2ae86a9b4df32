// Package watch tells rulekeeper when Falco's rule files may have changed.
//
// It watches the directories that hold the files, never the files themselves: editors and package
// managers replace a file by writing a new one and renaming it over the old, which silently ends an
// inotify watch held on the old file. Events are filtered by name, and a burst of events (an editor's
// save, dpkg unpacking a package) becomes a single notification once the burst has gone quiet.
//
// The watcher does not try to tell rulekeeper's own writes apart from anyone else's: the agent
// recognises its own writes by the hash it last wrote, so the watcher only has to report.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports changes to a set of files and whole directories. Its methods are safe to call from
// several goroutines; Run must be called once.
type Watcher struct {
	quiet   time.Duration
	maxWait time.Duration
	log     *slog.Logger
	fs      *fsnotify.Watcher

	mu      sync.Mutex
	targets targets
	// addWatch is fs.Add; a test puts a directory in place just before it, as a racing mkdir -p does.
	addWatch func(string) error
}

// New watches the given paths. A path that is an existing directory, or that ends in a slash, is
// watched whole (Falco's rules.d): any *.yaml or *.yml created, removed or changed in it counts.
// Every other path is a file, watched through its directory; the file need not exist yet.
//
// After the first event, the watcher waits until quiet passes with no further event, then reports the
// set of changed paths once. So that a writer that never pauses cannot postpone detection for ever, a
// notification is sent at the latest MaxWait(quiet) after the first event of a burst.
func New(paths []string, quiet time.Duration, log *slog.Logger) (*Watcher, error) {
	if quiet <= 0 {
		return nil, fmt.Errorf("watch: quiet period must be positive, got %v", quiet)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: start inotify (raise fs.inotify.max_user_instances if it is exhausted): %w", err)
	}
	w := &Watcher{quiet: quiet, maxWait: MaxWait(quiet), log: log, fs: fsw, addWatch: fsw.Add}
	if err := w.SetFiles(paths); err != nil {
		fsw.Close()
		return nil, err
	}
	return w, nil
}

// MaxWait is the longest a burst can delay its notification: ten quiet periods, at least one second.
func MaxWait(quiet time.Duration) time.Duration {
	return max(10*quiet, time.Second)
}

// SetFiles replaces the set of watched paths (same rules as New), for example after a pass that
// brought new rules files. Watches no longer needed are dropped.
func (w *Watcher) SetFiles(paths []string) error {
	t, err := newTargets(paths)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.targets = t
	_, err = w.syncLocked()
	return err
}

// Close releases the inotify instance. Run closes it too when it returns; Close is for a watcher
// whose Run was never started.
func (w *Watcher) Close() error { return w.fs.Close() }

// Run delivers notifications until ctx is done, then closes the watcher and returns nil. notify is
// called from Run's goroutine with the sorted, de-duplicated paths that changed; it should hand the
// work off quickly (events queue in the kernel meanwhile). A path is reported when it was written,
// created, removed or renamed, or when its directory was removed or (re)created. Changes of
// permission bits or timestamps alone are not reported: they do not change what Falco loads.
//
// When the kernel's event queue overflows, every watched path is reported, because any of them may
// have changed unseen.
func (w *Watcher) Run(ctx context.Context, notify func(paths []string)) error {
	defer w.fs.Close()

	pending := map[string]bool{}
	var first time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()

	add := func(paths []string) {
		if len(paths) == 0 {
			return
		}
		now := time.Now()
		if len(pending) == 0 {
			first = now
		}
		for _, p := range paths {
			pending[p] = true
		}
		// Reset the quiet period, but never beyond maxWait after the first event of the burst.
		timer.Reset(min(w.quiet, first.Add(w.maxWait).Sub(now)))
	}

	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.fs.Events:
			if !ok {
				return errors.New("watch: inotify event stream closed")
			}
			add(w.handle(ev))
		case err, ok := <-w.fs.Errors:
			if !ok {
				return errors.New("watch: inotify error stream closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("inotify queue overflowed; treating every watched path as changed", "err", err)
				add(w.allPaths())
				continue
			}
			w.log.Error("inotify error", "err", err)
		case <-timer.C:
			if len(pending) == 0 {
				continue
			}
			paths := make([]string, 0, len(pending))
			for p := range pending {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			clear(pending)
			notify(paths)
		}
	}
}

// handle maps one inotify event to the watched paths it concerns (often none).
func (w *Watcher) handle(ev fsnotify.Event) []string {
	if ev.Op == fsnotify.Chmod {
		return nil
	}
	name := filepath.Clean(ev.Name)

	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	if w.targets.match(name) {
		out = append(out, name)
	}
	// A directory on the way to a watched path appeared, vanished or was replaced (rm -rf, mkdir,
	// a symlink re-pointed with ln -sfn): watch again from the file system's current shape.
	if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if w.targets.onPathTo(name) {
			// Re-add a watch held through a symlink, which still points at the old target otherwise.
			if slices.Contains(w.fs.WatchList(), name) {
				_ = w.fs.Remove(name)
			}
			out = append(out, w.targets.under(name)...)
			added, err := w.syncLocked()
			if err != nil {
				w.log.Error("re-watch after directory change", "dir", name, "err", err)
			}
			for _, d := range added {
				out = append(out, w.targets.under(d)...)
			}
		}
	}
	return out
}

// syncLocked makes the set of inotify watches match the targets and the file system as it is now, and
// returns the needed directories that gained a watch (files in them may have changed unseen).
//
// It repeats until a round adds no watch: a directory created inside an ancestor between the check
// that it was missing and the watch on that ancestor (mkdir -p is that fast) sends the ancestor no
// event, so only looking again, once the ancestor is watched, finds it.
func (w *Watcher) syncLocked() ([]string, error) {
	have := map[string]bool{}
	for _, p := range w.fs.WatchList() {
		have[p] = true
	}
	failed := map[string]bool{}
	var errs []error
	var added []string
	var want []string
	for again := true; again; {
		again = false
		want = w.targets.watchDirs()
		for _, d := range want {
			if have[d] || failed[d] {
				continue
			}
			if err := w.addWatch(d); err != nil {
				failed[d] = true
				// The directory may vanish between the check and the watch; its parent's events will
				// bring us back here.
				w.log.Debug("watch directory", "dir", d, "err", err)
				if !isNotExist(err) {
					errs = append(errs, fmt.Errorf("watch %s: %w", d, err))
				}
				continue
			}
			have[d] = true
			added = append(added, d)
			again = true
		}
	}
	for p := range have {
		if !slices.Contains(want, p) {
			_ = w.fs.Remove(p)
		}
	}
	return added, errors.Join(errs...)
}

func (w *Watcher) allPaths() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.targets.under("/")
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
