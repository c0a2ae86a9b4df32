package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
	"github.com/rulekeeper/rulekeeper/internal/noderoot"
	"github.com/rulekeeper/rulekeeper/internal/regfile"
)

// Result is what Apply did.
type Result struct {
	Written []string `json:"written"`
	Removed []string `json:"removed,omitempty"`
	// Swept lists the temporary files an interrupted pass had left.
	Swept []string `json:"swept_temporary_files,omitempty"`
	// Checked says whether `falco -V` accepted the files before they were written.
	Checked bool `json:"checked_with_falco"`
}

// Apply executes exactly the plan: it checks no file changed since the plan
// was made, has Falco validate the candidate files, writes each atomically,
// and records the new state. It writes nothing when any check fails. A
// failure while writing puts back the files already replaced.
func Apply(p *Plan) (*Result, error) {
	res := &Result{}
	// Temporary files a killed pass left behind go first, whatever this
	// pass does: Falco may load those in a rules folder.
	res.Swept = p.sweep()
	for _, fc := range p.Files {
		host, err := noderoot.Host(p.opts.Root, fc.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fc.Path, err)
		}
		same, err := holds(host, fc.Old)
		if os.IsNotExist(err) && fc.Action == Create {
			same, err = true, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fc.Path, readHint(err))
		}
		if !same {
			return nil, fmt.Errorf("%s changed since the plan was made: plan again", fc.Path)
		}
	}
	if len(p.Files) > 0 && p.opts.FalcoBinary != "" {
		if err := falcoValidate(p); err != nil {
			return nil, err
		}
		res.Checked = true
	}
	for _, fc := range p.Files {
		if err := p.writable(fc); err != nil {
			return nil, fmt.Errorf("%s: %w", fc.Path, writeHint(err))
		}
	}
	// The state goes first: a state directory rulekeeper cannot write stops
	// the pass before any rules file changes (Falco watching its files would
	// otherwise load the new ones and the old ones again). A crash between
	// the two is settled by the next pass, which takes each file for what
	// it is (see Pending).
	next := p.next
	if len(p.Files) > 0 {
		p.record(next)
	}
	if len(p.Files) == 0 && p.prev.Inputs == next.Inputs {
		return res, nil // converged and already recorded: write nothing at all
	}
	if err := next.save(p.opts.StatePath()); err != nil {
		return nil, fmt.Errorf("saving state: %w", writeHint(err))
	}
	var done []*FileChange
	for _, fc := range p.Files {
		if err := p.write(fc, fc.New); err != nil {
			undo := p.undo(done)
			if undo == nil {
				prev := *p.prev
				prev.Pending = nil
				undo = prev.save(p.opts.StatePath())
			}
			return nil, errors.Join(fmt.Errorf("%s: %w", fc.Path, writeHint(err)), undo)
		}
		done = append(done, fc)
		if fc.Action == Delete {
			res.Removed = append(res.Removed, fc.Path)
		} else {
			res.Written = append(res.Written, fc.Path)
		}
	}
	if len(p.Files) > 0 {
		// Best effort: without the mark the next pass settles the state
		// by the files' hashes, with the same result.
		markDone(p.opts.StatePath(), next)
	}
	return res, nil
}

// record writes into next what the state says of a pass that changes files:
// when, what, and what the files and their records were before.
func (p *Plan) record(next *State) {
	var files []string
	for _, fc := range p.Files {
		files = append(files, fc.Path)
	}
	next.Applied = &Applied{Time: time.Now().UTC(), Revision: p.opts.Revision, Files: files}
	next.Pending = p.pending()
}

// holds tells whether the file at path holds exactly want. It compares a
// block at a time instead of reading a second copy of the file.
func holds(path string, want []byte) (bool, error) {
	f, _, err := regfile.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := io.ReadFull(f, buf)
		if n > len(want) || !bytes.Equal(buf[:n], want[:n]) {
			return false, nil
		}
		want = want[n:]
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return len(want) == 0, nil
		default:
			return false, err
		}
	}
}

// Rollback puts back the files and the state as they were before Apply, for
// a Falco that did not come back with the new files, and marks the change
// refused so that later passes do not make it again.
func Rollback(p *Plan) error {
	if err := p.undo(p.Files); err != nil {
		return err
	}
	prev := *p.prev
	prev.Refused = p.next.Inputs
	prev.Pending = nil
	return prev.save(p.opts.StatePath())
}

func (p *Plan) undo(done []*FileChange) error {
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		fc := done[i]
		if err := p.put(fc.Path, fc.Old, fc.Action == Create); err != nil {
			errs = append(errs, fmt.Errorf("putting back %s: %w", fc.Path, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Plan) write(fc *FileChange, data []byte) error {
	return p.put(fc.Path, data, fc.Action == Delete)
}

// writable checks that a file can be replaced, and picks where its
// temporary file goes (see stage).
func (p *Plan) writable(fc *FileChange) error {
	if fc.Action == Delete {
		dir, err := noderoot.Host(p.opts.Root, path.Dir(fc.Path))
		if err != nil {
			return err
		}
		if err := unix.Access(dir, unix.W_OK); err != nil {
			return &os.PathError{Op: "write", Path: dir, Err: err}
		}
		return nil
	}
	host, err := noderoot.Host(p.opts.Root, fc.Path)
	if err != nil {
		return err
	}
	stage, err := p.stage(host)
	if err != nil {
		return err
	}
	if p.stages == nil {
		p.stages = map[string]string{}
	}
	p.stages[host] = stage
	return nil
}

// put writes data to a node path atomically, or removes the file. A
// symlink is written through: the link stays, its target is replaced.
func (p *Plan) put(nodePath string, data []byte, remove bool) error {
	if remove {
		dir, err := noderoot.Host(p.opts.Root, path.Dir(nodePath))
		if err != nil {
			return err
		}
		err = os.Remove(filepath.Join(dir, path.Base(nodePath)))
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	host, err := noderoot.Host(p.opts.Root, nodePath)
	if err != nil {
		return err
	}
	stage, ok := p.stages[host]
	if !ok {
		if stage, err = p.stage(host); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteStaged(host, stage, data, 0o644)
}

func writeHint(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (run rulekeeper as root, or give it write access to the file and its directory)", err)
	}
	if errors.Is(err, syscallEROFS) {
		return fmt.Errorf("%w (the file system is read-only: remount it read-write or manage another rules file)", err)
	}
	return err
}
