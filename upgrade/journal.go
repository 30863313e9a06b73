// Package upgrade moves the gateway to another runtime (Node and openclaw)
// as one transaction: a verified snapshot of the state, the target
// installed side by side, the state database preflighted by the target's
// own CLI, the switch, and a health gate. When the gate fails, the
// previous runtime and the snapshot's state go back together, since an
// older gateway can't read a database a newer one migrated. Each step is
// written to a journal before it is taken, so a restart after kill -9 or a
// power loss finishes or undoes it, never leaving a half-switched runtime.
//
// The package decides what happens and in which order; the daemon (Host)
// does each step: it owns the gateway, the runtime dir and the backups.
package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/runtime/provision"
)

// Runtime is one Node and openclaw pair.
type Runtime struct {
	Node     string            `json:"node"`     // version, e.g. 24.21.0
	Openclaw string            `json:"openclaw"` // version, e.g. 2026.9.6
	Dirs     provision.Current `json:"dirs"`     // their directories under runtime/
}

func (r Runtime) String() string {
	return fmt.Sprintf("openclaw %s on Node %s", r.Openclaw, r.Node)
}

// Same reports whether r and o are the same versions.
func (r Runtime) Same(o Runtime) bool { return r.Node == o.Node && r.Openclaw == o.Openclaw }

// Kinds of transaction.
const (
	KindUpgrade  = "upgrade"  // `openclawd upgrade`
	KindRollback = "rollback" // `openclawd rollback`: to Previous, with its state
	KindPins     = "pins"     // a new openclawd brought new pins: at its start
)

// Plan is one transaction, decided before anything changes.
type Plan struct {
	ID   string  `json:"id"`
	Kind string  `json:"kind"`
	From Runtime `json:"from"`
	To   Runtime `json:"to"`
	// Install says how to install To; the host reads it.
	Install Install `json:"install"`
	// Restore is the snapshot whose state goes in with To (a rollback);
	// "" keeps the live state, which To's gateway migrates if it must.
	Restore string `json:"restore,omitempty"`
	// Wanted, for KindPins, is the wanted runtime's key, remembered once
	// the transaction ends, so it is not tried again at every start.
	Wanted string `json:"wanted,omitempty"`
}

// Install is what installing To takes.
type Install struct {
	NodeSHA256 string `json:"node_sha256,omitempty"` // of this platform's tarball
	Integrity  string `json:"integrity,omitempty"`   // openclaw's dist.integrity
	LockDir    string `json:"lock_dir,omitempty"`    // package.json and package-lock.json; "" for the pinned lock
}

// Phases, in order. An undo is PhaseUndo then PhaseUndoGate.
const (
	PhaseInstall   = "install"   // installing To side by side
	PhaseSnapshot  = "snapshot"  // making the verified pre-transaction backup
	PhasePreflight = "preflight" // To's CLI checks the state database
	PhaseSwitch    = "switch"    // gateway stopped; current → To (and a rollback's state swapped in)
	PhaseGate      = "gate"      // To's gateway started: health gate, then the stable window
	PhaseCommit    = "commit"    // passed: record, prune
	PhaseUndo      = "undo"      // failed after the switch: current → From, snapshot's state back
	PhaseUndoGate  = "undo-gate" // From's gateway started on its state: its health gate
)

// Journal is a transaction in progress.
type Journal struct {
	Plan
	Phase    string    `json:"phase"`
	Started  time.Time `json:"started"`
	Snapshot string    `json:"snapshot,omitempty"` // upgrade/snapshot-<id>.tar: the state before the switch
	Steps    []Step    `json:"steps"`
	Reason   string    `json:"reason,omitempty"` // why it is being undone
	// Touched: To's gateway started, or a state swap began; an undo must
	// put the snapshot's state back.
	Touched bool `json:"touched,omitempty"`
	// Failed: To failed its gate, so it is blocked once rolled back.
	Failed bool `json:"failed,omitempty"`
	// Interrupted is set when a restart found it unfinished.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Step is one phase begun, for status and the log.
type Step struct {
	Phase string    `json:"phase"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

// Results of a finished transaction.
const (
	ResultDone       = "done"        // To is running and passed its gate
	ResultRolledBack = "rolled-back" // To failed after the switch; From and its state are back
	ResultRefused    = "refused"     // stopped before the switch; nothing changed
	ResultFailed     = "failed"      // rolled back, but From did not pass its gate either
)

// Outcome is how the last transaction ended.
type Outcome struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	From     Runtime   `json:"from"`
	To       Runtime   `json:"to"`
	Result   string    `json:"result"`
	Reason   string    `json:"reason,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Steps    []Step    `json:"steps"`
}

// Err is the outcome as an error, nil when it is done.
func (o Outcome) Err() error {
	if o.Result == ResultDone {
		return nil
	}
	return errors.New(o.Reason)
}

// Previous is what `openclawd rollback` returns to.
type Previous struct {
	Runtime  Runtime   `json:"runtime"`
	Snapshot string    `json:"snapshot"` // its state, taken just before it was left
	Left     time.Time `json:"left"`
}

// Block is a target that failed its gate: refused without --force.
type Block struct {
	Runtime Runtime   `json:"runtime"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// State is everything the package keeps, in upgrade/state.json.
type State struct {
	Journal  *Journal  `json:"journal,omitempty"`
	Last     *Outcome  `json:"last,omitempty"`
	Previous *Previous `json:"previous,omitempty"`
	Blocked  []Block   `json:"blocked,omitempty"`
	// Seen is the key of the last wanted runtime a start acted on.
	Seen string `json:"seen,omitempty"`
	// StableSince is when the current runtime passed its gate; old
	// runtimes are pruned only after that.
	StableSince time.Time `json:"stable_since,omitzero"`
}

// BlockOf returns the block on rt's versions, if any.
func (s *State) BlockOf(rt Runtime) *Block {
	for i := range s.Blocked {
		if s.Blocked[i].Runtime.Same(rt) {
			return &s.Blocked[i]
		}
	}
	return nil
}

// Store reads and writes the state file. Every write is atomic and
// synced: the journal is what a restart trusts.
type Store struct{ Dir string } // <state_dir>/upgrade

func (s Store) path() string { return filepath.Join(s.Dir, "state.json") }

// Load reads the state; a missing file is the zero State.
func (s Store) Load() (State, error) {
	var st State
	b, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the upgrade state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("the upgrade state %s is damaged (%v): move it away; `openclawd runtime list` shows what is installed", s.path(), err)
	}
	if err := st.check(s.Dir); err != nil {
		return st, fmt.Errorf("the upgrade state %s %w: move it away and check by hand", s.path(), err)
	}
	return st, nil
}

// Save writes st atomically.
func (s Store) Save(st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(s.path(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the upgrade state: %w", err)
	}
	return nil
}

var (
	idPattern       = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[0-9a-z]+)?$`)
	snapshotPattern = regexp.MustCompile(`^snapshot-[0-9]{8}T[0-9]{6}Z(-[0-9a-z]+)?\.tar$`)
)

// SnapshotPath is where a transaction's snapshot is kept.
func SnapshotPath(dir, id string) string { return filepath.Join(dir, "snapshot-"+id+".tar") }

// check refuses a state whose names could send a restart's undo outside
// the upgrade and runtime dirs: the file is the service user's, and what
// it names is acted on.
func (st State) check(dir string) error {
	snap := func(p string) error {
		if p != "" && (filepath.Dir(p) != dir || !snapshotPattern.MatchString(filepath.Base(p))) {
			return fmt.Errorf("names the snapshot %s, not one in %s", p, dir)
		}
		return nil
	}
	rt := func(r Runtime) error {
		for _, n := range []string{r.Dirs.Node, r.Dirs.Openclaw} {
			if n != "" && !provision.PlainName(n) {
				return fmt.Errorf("names the runtime dir %q", n)
			}
		}
		return nil
	}
	var errs []error
	if j := st.Journal; j != nil {
		if !idPattern.MatchString(j.ID) {
			errs = append(errs, fmt.Errorf("names the transaction %q", j.ID))
		}
		if !slices.Contains(phases, j.Phase) {
			errs = append(errs, fmt.Errorf("is in the unknown phase %q", j.Phase))
		}
		errs = append(errs, snap(j.Snapshot), snap(j.Restore), rt(j.From), rt(j.To))
		if l := j.Install.LockDir; l != "" && l != filepath.Join(dir, "plan-"+j.ID) {
			errs = append(errs, fmt.Errorf("names the lockfile dir %s, not %s", l, filepath.Join(dir, "plan-"+j.ID)))
		}
	}
	if p := st.Previous; p != nil {
		errs = append(errs, snap(p.Snapshot), rt(p.Runtime))
	}
	return errors.Join(errs...)
}

var phases = []string{PhaseInstall, PhaseSnapshot, PhasePreflight, PhaseSwitch, PhaseGate, PhaseCommit, PhaseUndo, PhaseUndoGate}

// NewID names a transaction by its start time.
func NewID(now time.Time) string { return now.UTC().Format("20060102T150405Z") }
