package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/statedir"
)

// Journal records a restore between its first swap and its health gate,
// so that the next start finishes it or undoes it.
type Journal struct {
	ID      string    `json:"id"`
	Phase   string    `json:"phase"` // PhaseSwapping, then PhaseGate
	Started time.Time `json:"started"`
	Archive string    `json:"archive"` // for messages
	Created time.Time `json:"created"` // the backup's time
	Staged  string    `json:"staged"`  // restore/staged-<id>
	Aside   string    `json:"aside"`   // restore/before-<id>: the previous state, kept
	Swapped []string  `json:"swapped"` // items swapped so far
}

// journalID is a restore's id: the backup's time and a random suffix.
var journalID = regexp.MustCompile(`^[0-9A-Za-z]+(-[0-9]+)?$`)

// Journal phases.
const (
	PhaseSwapping = "swapping" // items are being swapped, or swapped back: undo at the next start
	PhaseGate     = "gate"     // all swapped: the next gateway start must become healthy
)

func journalPath(l statedir.Layout) string { return filepath.Join(l.Restore(), "journal.json") }

// Pending returns the journal of an unfinished restore, or nil.
func Pending(l statedir.Layout) (*Journal, error) {
	b, err := os.ReadFile(journalPath(l))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore journal: %w", err)
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("restore journal %s is damaged (%v): move it away and check %s by hand", journalPath(l), err, l.Restore())
	}
	// Undo renames and removes what the journal names: only the restore's
	// own two directories, by their exact names.
	for _, p := range []struct{ path, want string }{{j.Staged, "staged-" + j.ID}, {j.Aside, "before-" + j.ID}} {
		if !journalID.MatchString(j.ID) || filepath.Dir(p.path) != l.Restore() || filepath.Base(p.path) != p.want {
			return nil, fmt.Errorf("restore journal %s names %s, not %s: move it away and check by hand", journalPath(l), p.path, filepath.Join(l.Restore(), p.want))
		}
	}
	for _, it := range j.Swapped {
		if !slices.Contains(Items, it) {
			return nil, fmt.Errorf("restore journal %s names %q, which a restore never swaps: move it away and check by hand", journalPath(l), it)
		}
	}
	return &j, nil
}

// Activate swaps a staged restore in: each item of the live state moves to
// restore/before-<id> and the staged one takes its place, a rename each,
// under a journal written (and synced) before the first and after the
// last. It returns the journal, in PhaseGate; Commit or Undo ends it.
func Activate(l statedir.Layout, s Staged, archive string) (*Journal, error) {
	if j, err := Pending(l); err != nil {
		return nil, err
	} else if j != nil {
		return nil, fmt.Errorf("restore: the restore of %s (%s) has not finished; start openclawd to finish or undo it first", j.Archive, j.Started.Format(time.RFC3339))
	}
	j := &Journal{ID: s.ID, Phase: PhaseSwapping, Started: time.Now().UTC(), Archive: archive,
		Created: s.Manifest.Created, Staged: s.Dir, Aside: filepath.Join(l.Restore(), "before-"+s.ID)}
	if err := os.Mkdir(j.Aside, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := writeJournal(l, j); err != nil {
		return nil, err
	}
	for _, it := range Items {
		live, aside, staged := filepath.Join(l.Root, it), filepath.Join(j.Aside, it), filepath.Join(j.Staged, it)
		// Journal first: Undo works out from what exists how far it got.
		j.Swapped = append(j.Swapped, it)
		if err := writeJournal(l, j); err != nil {
			return j, err
		}
		if err := os.Rename(live, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return j, fmt.Errorf("restore: moving %s aside: %w", live, err)
		}
		if err := os.Rename(staged, live); err != nil {
			return j, fmt.Errorf("restore: moving the restored %s in: %w", it, err)
		}
	}
	syncDir(l.Root)
	j.Phase = PhaseGate
	return j, writeJournal(l, j)
}

// Undo puts the previous state back: each swapped item returns from
// restore/before-<id>, and the restored one goes to restore/failed-<id>
// for a look. It is safe to run again after an interruption.
func Undo(l statedir.Layout, j *Journal) error {
	// Should this be cut short, the next start must undo, not gate.
	if j.Phase != PhaseSwapping {
		j.Phase = PhaseSwapping
		if err := writeJournal(l, j); err != nil {
			return err
		}
	}
	failed := filepath.Join(l.Restore(), "failed-"+j.ID)
	if err := os.MkdirAll(failed, 0o700); err != nil {
		return fmt.Errorf("undoing the restore: %w", err)
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	// Every item is tried, whatever failed before it: stopping at the
	// first would leave the others restored, a mix of two states.
	var errs []error
	for _, it := range slices.Backward(j.Swapped) {
		live, aside, staged, gone := filepath.Join(l.Root, it), filepath.Join(j.Aside, it), filepath.Join(j.Staged, it), filepath.Join(failed, it)
		// While the staged item is still staged, live is the original.
		if !exists(staged) && !exists(gone) {
			if err := os.Rename(live, gone); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("moving the restored %s away: %w", it, err))
				continue
			}
		}
		if exists(aside) {
			// A start that found the item missing made it anew, empty
			// (statedir's Ensure): that one gives way.
			_ = os.Remove(live)
			if err := os.Rename(aside, live); err != nil {
				errs = append(errs, fmt.Errorf("putting %s back: %w", it, err))
			}
		}
	}
	if len(errs) > 0 {
		// The journal stays: the next start tries again.
		return fmt.Errorf("undoing the restore: %w", errors.Join(errs...))
	}
	syncDir(l.Root)
	// The journal goes before the staged dir: a staged item still there is
	// what tells a second Undo that the live one is the previous state.
	if err := removeJournal(l); err != nil {
		return err
	}
	_ = os.RemoveAll(j.Staged) // or CleanStaged at the next start
	_ = os.Remove(j.Aside)     // empty now, unless something was never swapped
	return nil
}

// Commit ends a restore that passed its health gate. The previous state
// stays in restore/before-<id>, with the one before it.
func Commit(l statedir.Layout, j *Journal) error {
	_ = os.RemoveAll(j.Staged)
	if err := removeJournal(l); err != nil {
		return err
	}
	// This restore's previous state stays, and the newest other one; of
	// failed restores (copies of archives), the newest. Their names carry
	// the restored backup's time, not the restore's: an older backup may
	// be restored after a newer one, so they go by when they were made.
	prune(l, "before-", filepath.Base(j.Aside))
	prune(l, "failed-", "")
	return nil
}

// prune keeps keep and the newest other directory of restore/ named
// prefix*, and removes the rest.
func prune(l statedir.Layout, prefix, keep string) {
	ents, _ := os.ReadDir(l.Restore())
	type dir struct {
		name string
		made time.Time
	}
	var others []dir
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && e.Name() != keep {
			if fi, err := e.Info(); err == nil {
				others = append(others, dir{e.Name(), fi.ModTime()})
			}
		}
	}
	slices.SortFunc(others, func(a, b dir) int { // newest first
		if c := b.made.Compare(a.made); c != 0 {
			return c
		}
		return strings.Compare(b.name, a.name)
	})
	for _, d := range others[min(1, len(others)):] {
		_ = os.RemoveAll(filepath.Join(l.Restore(), d.name))
	}
}

// CleanStaged removes staged directories no journal names: what an
// interrupted Stage left.
func CleanStaged(l statedir.Layout) {
	j, err := Pending(l)
	if err != nil {
		return // a journal to check by hand: its staged dir stays
	}
	ents, _ := os.ReadDir(l.Restore())
	for _, e := range ents {
		p := filepath.Join(l.Restore(), e.Name())
		if strings.HasPrefix(e.Name(), "staged-") && (j == nil || j.Staged != p) {
			_ = os.RemoveAll(p)
		}
	}
}

func writeJournal(l statedir.Layout, j *Journal) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(journalPath(l), b, 0o600); err != nil {
		return fmt.Errorf("restore: writing the journal: %w", err)
	}
	return nil
}

func removeJournal(l statedir.Layout) error {
	if err := os.Remove(journalPath(l)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore: removing the journal: %w", err)
	}
	syncDir(l.Restore())
	return nil
}
