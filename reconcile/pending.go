package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// doneFile holds the token of the last pass that wrote all its files. It
// is written without fsync, after the files: cheap, and a kill cannot undo
// it. Lost in a power failure, it only makes the next pass settle by the
// files' hashes (a file reverted by hand to its exact earlier bytes then
// counts as the policy's change rather than drift).
const doneFile = "pass-done"

func passToken(a *Applied) string {
	if a == nil {
		return ""
	}
	return a.Time.UTC().Format(time.RFC3339Nano)
}

// markDone says that the pass recorded in st wrote all its files.
func markDone(dir string, st *State) error {
	return os.WriteFile(filepath.Join(dir, doneFile), []byte(passToken(st.Applied)), 0o600)
}

// Pending is one file's record from before a pass that changed it.
//
// A pass saves the state before it writes any rules file (a state that
// cannot be saved stops it before Falco sees anything), so a pass killed
// in between leaves a state that describes files not all written. Each
// file is whole, old or new (the writes are atomic); the next pass tells
// which by its hash, and takes the matching record. Without this, a file
// still carrying rulekeeper's values under a state that no longer names
// them would pass for the vendor's, and the next edit would stack on it.
type Pending struct {
	Old  string     `json:"old_sha256,omitempty"` // the file before the pass; "" absent
	Prev *FileState `json:"prev,omitempty"`       // the state's record of it then
}

// pending records, for every file the plan changes, the file and the
// state's record of it before the plan.
func (p *Plan) pending() map[string]*Pending {
	out := map[string]*Pending{}
	for _, fc := range p.Files {
		pe := &Pending{Prev: p.prev.Files[fc.Path]}
		if fc.Action != Create {
			pe.Old = sum(fc.Old)
		}
		out[fc.Path] = pe
	}
	return out
}

// settle takes, for every file of a pass that did not finish, the
// record that matches the file on disk: the new one when the file is what
// the pass wrote, else the old one when it is what the pass found. cur
// holds the files already read; others are read here.
func (st *State) settle(root, dir string, cur map[string][]byte) error {
	if len(st.Pending) == 0 {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, doneFile)); err == nil && st.Applied != nil && string(b) == passToken(st.Applied) {
		return nil // the pass finished: the records are the files'
	}
	for f, pe := range st.Pending {
		h := ""
		if b, ok := cur[f]; ok {
			h = sum(b)
		} else {
			b, err := ReadRulesFile(root, f)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				return fmt.Errorf("%s: %w", f, readHint(err))
			default:
				h = sum(b)
			}
		}
		now := ""
		if fst := st.Files[f]; fst != nil {
			now = fst.SHA256
		}
		if h == now || h != pe.Old {
			continue // written, or changed since: the new record holds
		}
		if pe.Prev != nil {
			st.Files[f] = pe.Prev
		} else {
			delete(st.Files, f)
		}
		st.Inputs = "" // the pass did not finish: plan in full
	}
	return nil
}
