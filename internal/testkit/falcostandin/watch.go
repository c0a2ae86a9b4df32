package main

import (
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher restarts the stand-in when its config or rules change (watch_config_files). It watches
// folders and filters on names: an editor or an atomic rename replaces a watched file's inode.
type watcher struct {
	lg      *logger
	fw      *fsnotify.Watcher
	changed chan string
	files   map[string]bool // config and rules files
	dirs    map[string]bool // rules folders: any file Falco loads created, written or removed inside
	version string
	watched map[string]bool
	events  chan fsnotify.Event
}

func newWatcher(lg *logger) *watcher {
	return &watcher{lg: lg, changed: make(chan string, 1), watched: map[string]bool{}, events: make(chan fsnotify.Event, 64)}
}

func (w *watcher) set(configPath string, cfg *config) {
	if !cfg.WatchConfigFiles {
		w.close()
		return
	}
	if w.fw == nil {
		fw, err := fsnotify.NewWatcher()
		if err != nil {
			w.lg.printf("Error: cannot watch config files: %v", err)
			return
		}
		w.fw = fw
		go w.loop(fw)
	}
	w.files, w.dirs, w.version = map[string]bool{abs(configPath): true}, map[string]bool{}, falcoVersion(configPath)
	w.add(filepath.Dir(abs(configPath)))
	for _, entry := range cfg.RulesFile {
		p := abs(entry)
		if isDir(p) {
			w.dirs[p] = true
			w.add(p)
		} else {
			w.files[p] = true
		}
		w.add(filepath.Dir(p))
	}
}

func (w *watcher) add(dir string) {
	if w.watched[dir] {
		return
	}
	if err := w.fw.Add(dir); err == nil {
		w.watched[dir] = true
	}
}

// loop debounces bursts (write-temp-then-rename, several files of one pass) into one restart.
func (w *watcher) loop(fw *fsnotify.Watcher) {
	var timer <-chan time.Time
	var last string
	for {
		select {
		case ev, ok := <-fw.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || !w.relevant(ev.Name) {
				continue
			}
			last = ev.Name
			timer = time.After(100 * time.Millisecond)
		case _, ok := <-fw.Errors:
			if !ok {
				return
			}
		case <-timer:
			timer = nil
			select {
			case w.changed <- last:
			default: // a restart is already pending; it will read the newest files
			}
		}
	}
}

func (w *watcher) relevant(name string) bool {
	p := abs(name)
	if w.files[p] || w.dirs[p] {
		return true
	}
	return w.dirs[filepath.Dir(p)] && folderLoads(w.version, filepath.Base(p))
}

func (w *watcher) close() {
	if w.fw != nil {
		w.fw.Close()
		w.fw = nil
		w.watched = map[string]bool{}
	}
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}
