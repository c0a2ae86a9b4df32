package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
)

// seenStore keeps a copy of every rules file as it stood after the last
// converged pass, in STATE/seen/<escaped node path>. An edit is anything
// that makes a file differ from its copy: the agent's own writes update the
// copies with the bytes written, so they are never taken for someone
// else's, whatever the timing. The copies survive restarts, so an edit made
// while the agent was stopped is still caught.
type seenStore struct {
	dir   string
	files map[string][]byte // node path → content
}

func loadSeen(dir string) (*seenStore, error) {
	s := &seenStore{dir: dir, files: map[string][]byte{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p, err := url.PathUnescape(e.Name())
		if err != nil || !strings.HasPrefix(p, "/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, e.Name()), err)
		}
		s.files[p] = b
	}
	return s, nil
}

// baseline reports whether a converged state was recorded: before the
// first pass there is nothing to compare with.
func (s *seenStore) baseline() bool { return len(s.files) > 0 }

// paths lists the files the store has a copy of.
func (s *seenStore) paths() []string {
	out := make([]string, 0, len(s.files))
	for p := range s.files {
		out = append(out, p)
	}
	return out
}

// edit is a rules file that differs from the agent's copy.
type edit struct {
	Path   string
	Before []byte // the copy; nil: the file is new
	Now    []byte // nil: the file was removed
}

// edits compares files as they are now (nil: missing) with the copies.
func (s *seenStore) edits(now map[string][]byte) []edit {
	var out []edit
	for p, b := range now {
		old, had := s.files[p]
		switch {
		case !had && b == nil:
		case !had:
			out = append(out, edit{Path: p, Now: b})
		case b == nil:
			out = append(out, edit{Path: p, Before: old})
		case !bytes.Equal(old, b):
			out = append(out, edit{Path: p, Before: old, Now: b})
		}
	}
	return out
}

// replace records files as converged: copies are written for files whose
// content changed and removed for files no longer there (nil content).
func (s *seenStore) replace(files map[string][]byte) error {
	var errs []error
	for p, b := range files {
		name := filepath.Join(s.dir, url.PathEscape(p))
		old, had := s.files[p]
		switch {
		case b == nil:
			if had {
				if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
					continue
				}
				delete(s.files, p)
			}
		case !had || !bytes.Equal(old, b):
			if err := atomicfile.WriteMkdir(name, b, 0o600, 0o700); err != nil {
				errs = append(errs, fmt.Errorf("keeping a copy of %s: %w", p, err))
				continue
			}
			s.files[p] = bytes.Clone(b)
		}
	}
	return errors.Join(errs...)
}
