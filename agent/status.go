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
	// Rollout is the node's place in the rollout of the head commit; nil
	// when the head's policy has no rollout block.
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// RolloutStatus is what a node decided about the head commit of its
// policy branch (see agent/rollout).
type RolloutStatus struct {
	Wave     int       `json:"wave"`
	WaveName string    `json:"wave_name"`
	Waves    int       `json:"waves"`
	PlacedBy string    `json:"placed_by"` // the label, or the hash of the hostname
	Head     string    `json:"head"`      // the head commit the decision is about
	HeadTime time.Time `json:"head_time,omitzero"`
	// FirstSeen is when this node first found Head at the head; kept
	// across restarts so that a restart does not move the node's wave.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	// State is applied, waiting, paused, gate_held or gate_error.
	State      string     `json:"state"`
	ApplyAfter time.Time  `json:"apply_after,omitzero"` // when the node's wave comes for Head
	Reason     string     `json:"reason"`
	Note       string     `json:"note,omitempty"` // e.g. a trailer ignored, and why
	Gate       *GateCheck `json:"gate,omitempty"`
}

// GateCheck is the last answer of the rollout's gate, asked on every poll
// while the node's wave has come.
type GateCheck struct {
	Time      time.Time `json:"time"`  // since when the gate gives this answer
	Query     string    `json:"query"` // with the commit and wave put in
	Value     *float64  `json:"value,omitempty"`
	Threshold float64   `json:"threshold"`
	Error     string    `json:"error,omitempty"`
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
