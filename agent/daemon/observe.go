package daemon

import (
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/rulekeeper/rulekeeper/internal/noderoot"
	"github.com/rulekeeper/rulekeeper/internal/regfile"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// seen is a rules file as the agent saw it: its hash and size always, its
// bytes only when kept (a file rulekeeper manages, whose edits it shows as
// a diff). Memory then stays bounded by the managed files, whatever the size
// of the other files in Falco's rules folders. A nil *seen is a missing file.
type seen struct {
	Sum  [sha256.Size]byte
	Size int64
	Data []byte // nil unless kept
}

func seenOf(b []byte) *seen {
	return &seen{Sum: sha256.Sum256(b), Size: int64(len(b)), Data: b}
}

// same tells whether two observations are of the same content (both
// missing counts as the same).
func (s *seen) same(o *seen) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.Sum == o.Sum && s.Size == o.Size
}

// maxKept bounds the copy of a managed file: one larger than rulekeeper
// reads of a rules file (someone put a huge file in its place) is only
// hashed.
const maxKept = reconcile.MaxRulesFileSize

// observe reads a rules file of the node under the sandbox root (symlinks
// resolved inside it): whole when keep (and not over maxKept), else only
// through the hash. nil when it is missing or not a regular file (what
// Falco cannot load is not there for it either). This and observeFile are
// the one place the daemon reads rules files.
func observe(root, nodePath string, keep bool) *seen {
	host, err := noderoot.Host(root, nodePath)
	if err != nil {
		return nil
	}
	return observeFile(host, keep)
}

// observeFile is observe for a path of this machine.
func observeFile(path string, keep bool) *seen {
	f, fi, err := regfile.Open(path) // only a regular file; a FIFO does not block
	if err != nil {
		return nil
	}
	defer f.Close()
	// Read no more than the size found: a file that grows meanwhile is seen
	// again by the next event.
	r := io.LimitReader(f, fi.Size())
	if keep && fi.Size() <= maxKept {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil
		}
		return seenOf(b)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return nil
	}
	s := &seen{Size: n}
	h.Sum(s.Sum[:0])
	return s
}

// sizeChange tells, for an edit of a file (there before and now) whose
// content was not kept, what changed.
func sizeChange(before, after *seen) string {
	return fmt.Sprintf("%d bytes before, %d now, sha256 %x now; rulekeeper keeps no copy of files it does not manage, so it has no diff", before.Size, after.Size, after.Sum)
}
