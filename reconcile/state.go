package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
)

// State is what rulekeeper remembers between passes, in StateDir/state.json:
// the vendor's original of every value it changed (so the desired value is
// always computed from the vendor's text, never from its own earlier edit)
// and the hash of what it last wrote (so its own writes are recognised).
type State struct {
	// Inputs hashes the desired state and every rules file as they were after
	// the last converged pass; when nothing differs, a pass has nothing to do.
	Inputs string                `json:"inputs"`
	Files  map[string]*FileState `json:"files"`
	// Refused is the Inputs of a change that was rolled back: the same
	// change is not tried again.
	Refused string `json:"refused,omitempty"`
	// Applied records the last pass that changed files.
	Applied *Applied `json:"applied,omitempty"`
	// Pending is what the state said before the last pass that changed
	// files, for each file it changed (see settle).
	Pending map[string]*Pending `json:"pending,omitempty"`
	// Parsed maps each rules file to the SHA-256 of the bytes a full parse
	// (or a checked edit of such bytes) vouched for: a later pass that finds
	// the same bytes cuts the file at its `- ` lines instead of parsing it.
	Parsed map[string]string `json:"parsed,omitempty"`
}

// FileState is rulekeeper's record of one file it manages.
type FileState struct {
	SHA256 string `json:"sha256"` // content as rulekeeper last wrote it
	// Outside hashes the content outside the managed values: when a file
	// carries none of rulekeeper's values and differs here too, it is a new
	// vendor file (a package upgrade), not drift.
	Outside string `json:"outside_sha256,omitempty"`
	Owned   bool   `json:"owned,omitempty"` // written whole by rulekeeper (override strategy, file blocks)
	// Source is, for a whole file a policy ships, its path in the policy.
	Source string `json:"source,omitempty"`
	// Settings marks falco.yaml, or the config drop-in, where rulekeeper
	// keeps Falco's settings (not a rules file).
	Settings bool    `json:"settings,omitempty"`
	Values   []Value `json:"values,omitempty"`
}

// Value is one managed value, as raw bytes of the file.
type Value struct {
	// Kind is "list" for a list's items, "macro" for a macro's condition,
	// "" for a rule's value.
	Kind     string `json:"kind,omitempty"`
	Rule     string `json:"rule"` // the rule's (or list's) name
	Field    string `json:"field"`
	Original string `json:"original"` // the vendor's bytes for the value
	Absent   bool   `json:"absent,omitempty"`
	Written  string `json:"written"` // rulekeeper's bytes for it
}

// Applied says when files were last changed and by what.
type Applied struct {
	Time     time.Time `json:"time"`
	Revision string    `json:"revision,omitempty"`
	Files    []string  `json:"files"`
}

const stateFile = "state.json"

// LoadState reads the state directory; a missing state is an empty one.
func LoadState(dir string) (*State, error) {
	st := &State{Files: map[string]*FileState{}}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	corrupt := func(err error) error {
		return fmt.Errorf("%s: %w (move it away to start afresh: rulekeeper then takes the files as they are for the vendor's)", filepath.Join(dir, stateFile), err)
	}
	// rulekeeper always writes an object with a "files" object, empty or
	// not: anything else (`null`, `{}`, a list) has lost the vendor's
	// originals, and taking it for an empty state would forget them for good.
	st.Files = nil
	if err := json.Unmarshal(data, st); err != nil {
		return nil, corrupt(err)
	}
	if st.Files == nil {
		return nil, corrupt(errors.New(`not a rulekeeper state: no "files" object`))
	}
	return st, nil
}

func (st *State) save(dir string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, stateFile), append(data, '\n'), 0o600)
}

// Lock takes the state directory's lock, waiting while another rulekeeper
// holds it. The returned function releases it.
func Lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("state lock %s: %w", f.Name(), err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sumOutside is sum(outside(data, spans)) without building that copy.
func sumOutside(data []byte, spans [][2]int) string {
	h := sha256.New()
	writeOutside(h, data, spans, 0)
	return hex.EncodeToString(h.Sum(nil))
}

// sums returns sum(data) and sumOutside(data, spans). The two hashes share
// the bytes before the first span, which are hashed once: on a 136 KB file
// each hash is a tenth of a first pass.
func sums(data []byte, spans [][2]int) (whole, outside string) {
	first := len(data)
	if len(spans) > 0 {
		first = spans[0][0]
	}
	w := sha256.New()
	w.Write(data[:first])
	o, err := w.(hash.Cloner).Clone() // crypto/sha256's digest clones without fail
	if err != nil {
		panic(err)
	}
	w.Write(data[first:])
	writeOutside(o, data, spans, first)
	return hex.EncodeToString(w.Sum(nil)), hex.EncodeToString(o.Sum(nil))
}

// writeOutside hashes data from offset from on, leaving out the spans.
func writeOutside(h hash.Hash, data []byte, spans [][2]int, from int) {
	last := from
	for _, s := range spans {
		h.Write(data[last:s[0]])
		last = s[1]
	}
	h.Write(data[last:])
}
