package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
)

// StatusFile is the daemon's account of itself in the state directory,
// read by `rulekeeper status`. It holds no credential.
const StatusFile = "status.json"

// Status is what `rulekeeper status` shows besides the managed values
// (those come from reconcile's state.json).
type Status struct {
	Source     string    `json:"source"` // repository URL without credentials, or the policy folder
	Mode       string    `json:"drift_mode"`
	Commit     string    `json:"commit,omitempty"` // policy commit the node is converged to
	CommitTime time.Time `json:"commit_time,omitzero"`
	// ConvergedAt is when the node was last found (or made) as the policy says.
	ConvergedAt time.Time `json:"converged_at,omitzero"`
	// AppliedAt is when files were last written.
	AppliedAt    time.Time `json:"applied_at,omitzero"`
	Applied      []string  `json:"applied_files,omitempty"`
	ReloadMethod string    `json:"reload_method,omitempty"`
	LastDrift    *Incident `json:"last_drift,omitempty"`
	LastTamper   *Incident `json:"last_tamper,omitempty"`
	LastError    *Incident `json:"last_error,omitempty"` // cleared by the next good pass
	Refused      *Incident `json:"refused,omitempty"`    // a commit not applied; cleared when a later one is
}

// Incident is one drift, tamper, refusal or error.
type Incident struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind,omitempty"`
	File    string    `json:"file,omitempty"`
	Rule    string    `json:"rule,omitempty"`
	Commit  string    `json:"commit,omitempty"`
	Message string    `json:"message"`
}

// ReadStatus reads the status file of a state directory (a host path); a
// missing file is (nil, nil): no daemon ran there yet.
func ReadStatus(dir string) (*Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	st := &Status{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %w (the daemon rewrites it on its next pass)", filepath.Join(dir, StatusFile), err)
	}
	return st, nil
}

// Write replaces the status file in the state directory dir atomically:
// `status` never reads half of it.
func (st *Status) Write(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteMkdir(filepath.Join(dir, StatusFile), append(b, '\n'), 0o644, 0o700)
}
