package daemon

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
)

// seenStore remembers every rules file as it stood after the last converged
// pass, in STATE/seen/: a copy (<escaped node path>) of each file
// rulekeeper manages, whose edits are told with a diff, and only the hash
// and size (sha256-<escaped node path>) of every other file. An edit is
// anything that makes a file differ from what is remembered: the agent's
// own writes update the store with the bytes written, so they are never
// taken for someone else's, whatever the timing. The store survives
// restarts, so an edit made while the agent was stopped is still caught.
type seenStore struct {
	dir   string
	files map[string]*seen // node path → as converged
}

// hashPrefix names the files that hold a hash: escaped node paths start
// with %2F, so neither kind can be taken for the other.
const hashPrefix = "sha256-"

func loadSeen(dir string) (*seenStore, error) {
	s := &seenStore{dir: dir, files: map[string]*seen{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		name, hashed := strings.CutPrefix(e.Name(), hashPrefix)
		p, err := url.PathUnescape(name)
		if err != nil || !strings.HasPrefix(p, "/") {
			continue
		}
		file := filepath.Join(dir, e.Name())
		if !hashed {
			// A copy too large to keep (an earlier version kept copies of
			// every file) is dropped: the next pass remembers the file's hash.
			switch o := observeFile(file, true); {
			case o == nil:
				return nil, fmt.Errorf("reading %s: not a readable regular file", file)
			case o.Data == nil:
				if err := os.Remove(file); err != nil {
					return nil, fmt.Errorf("removing %s: %w", file, err)
				}
			default:
				s.files[p] = o
			}
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		if h, ok := parseHash(string(b)); ok {
			s.files[p] = h
		}
	}
	return s, nil
}

// A hash file holds "<sha256 hex> <size>\n".
func parseHash(text string) (*seen, bool) {
	sum, size, ok := strings.Cut(strings.TrimSpace(text), " ")
	h := &seen{}
	n, err := strconv.ParseInt(size, 10, 64)
	if b, herr := hex.DecodeString(sum); !ok || err != nil || herr != nil || len(b) != len(h.Sum) {
		return nil, false
	} else {
		copy(h.Sum[:], b)
	}
	h.Size = n
	return h, true
}

// baseline reports whether a converged state was recorded: before the
// first pass there is nothing to compare with.
func (s *seenStore) baseline() bool { return len(s.files) > 0 }

// paths lists the files the store remembers.
func (s *seenStore) paths() []string {
	out := make([]string, 0, len(s.files))
	for p := range s.files {
		out = append(out, p)
	}
	return out
}

// kept tells whether the store keeps the bytes of a file (rulekeeper
// manages it).
func (s *seenStore) kept(p string) bool {
	f := s.files[p]
	return f != nil && f.Data != nil
}

// edit is a rules file that differs from what the store remembers.
type edit struct {
	Path   string
	Before *seen // nil: the file is new
	Now    *seen // nil: the file was removed
}

// edits compares files as they are now (nil: missing) with the store.
func (s *seenStore) edits(now map[string]*seen) []edit {
	var out []edit
	for p, b := range now {
		old, had := s.files[p]
		if !had && b == nil || had && old.same(b) {
			continue
		}
		out = append(out, edit{Path: p, Before: old, Now: b})
	}
	return out
}

// replace records files as converged: a copy for those with bytes, a hash
// for the others; nil removes what was remembered of a file.
func (s *seenStore) replace(files map[string]*seen) error {
	var errs []error
	for p, f := range files {
		copyName := filepath.Join(s.dir, url.PathEscape(p))
		hashName := filepath.Join(s.dir, hashPrefix+url.PathEscape(p))
		old, had := s.files[p]
		switch {
		case f == nil:
			if had {
				if err := removeAll(copyName, hashName); err != nil {
					errs = append(errs, err)
					continue
				}
				delete(s.files, p)
			}
		case had && old.same(f) && (old.Data != nil) == (f.Data != nil):
		case f.Data != nil:
			if err := atomicfile.WriteMkdir(copyName, f.Data, 0o600, 0o700); err != nil {
				errs = append(errs, fmt.Errorf("keeping a copy of %s: %w", p, err))
				continue
			}
			_ = removeAll(hashName)
			s.files[p] = f
		default:
			line := fmt.Sprintf("%x %d\n", f.Sum, f.Size)
			if err := atomicfile.WriteMkdir(hashName, []byte(line), 0o600, 0o700); err != nil {
				errs = append(errs, fmt.Errorf("keeping the hash of %s: %w", p, err))
				continue
			}
			_ = removeAll(copyName)
			s.files[p] = &seen{Sum: f.Sum, Size: f.Size}
		}
	}
	return errors.Join(errs...)
}

func removeAll(names ...string) error {
	var errs []error
	for _, n := range names {
		if err := os.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
