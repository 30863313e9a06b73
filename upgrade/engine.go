package upgrade

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Host takes the steps. Each returns when its step is done, or why not.
type Host interface {
	// Snapshot makes a verified backup of the live state and keeps it at dst.
	Snapshot(ctx context.Context, dst string) error
	// Install installs p.To beside the current runtime, without switching.
	Install(ctx context.Context, p Plan) error
	// Preflight has rt's own CLI check the state database in archive.
	Preflight(ctx context.Context, rt Runtime, archive string) error
	// Stop stops the gateway and keeps it stopped until Start.
	Stop(ctx context.Context, why string) error
	// Point makes rt the runtime the gateway starts from.
	Point(rt Runtime) error
	// RestoreState puts archive's state in place of the live one; the
	// gateway is stopped.
	RestoreState(ctx context.Context, archive string) error
	// Start starts the gateway again.
	Start()
	// Gate waits for the started gateway to become healthy, then to stay
	// so for window; the error says why it did not. since is when the
	// gate began (before a restart, when it resumes one).
	Gate(ctx context.Context, since time.Time, window time.Duration) error
	// Prune removes installed runtimes other than keep's.
	Prune(keep ...Runtime)
}

// Engine runs transactions. One at a time: the daemon sees to that.
type Engine struct {
	Store  Store
	Host   Host
	Log    *slog.Logger
	Stable time.Duration // the window the gate holds after healthy
	Now    func() time.Time
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// ErrInProgress is a second transaction while one runs.
var ErrInProgress = errors.New("an upgrade or rollback is in progress: `openclawd status` shows its step; wait for it to finish")

// Run carries out p from the start. The error is one the journal itself
// could not be written with; a transaction that failed, was refused or
// was rolled back is told by the Outcome (and its Err).
func (e *Engine) Run(ctx context.Context, p Plan) (Outcome, error) {
	st, err := e.Store.Load()
	if err != nil {
		return Outcome{}, err
	}
	if st.Journal != nil {
		return Outcome{}, ErrInProgress
	}
	j := &Journal{Plan: p, Started: e.now().UTC(), Snapshot: SnapshotPath(e.Store.Dir, p.ID)}
	if err := e.enter(&st, j, PhaseInstall, p.From.String()+" → "+p.To.String()); err != nil {
		return Outcome{}, err
	}
	return e.drive(ctx, &st, j)
}

// Recover deals with a transaction a restart found unfinished, before the
// gateway starts: one cut short before the switch is dropped (nothing had
// changed); a switch cut short is undone here, offline. It returns what
// is left to do once the gateway has started (a gate), or nil.
func (e *Engine) Recover(ctx context.Context) (func(context.Context) (Outcome, error), error) {
	st, err := e.Store.Load()
	if err != nil {
		return nil, err
	}
	j := st.Journal
	if j == nil {
		return nil, nil
	}
	j.Interrupted = true
	resume := func(ctx context.Context) (Outcome, error) { return e.drive(ctx, &st, j) }
	switch j.Phase {
	case PhaseInstall, PhaseSnapshot, PhasePreflight:
		_, err := e.finish(&st, j, ResultRefused, fmt.Sprintf("openclawd stopped during the %s step; nothing had changed, the gateway stays on %s", j.Phase, j.From))
		return nil, err
	case PhaseSwitch:
		j.Reason = "openclawd stopped while switching to " + j.To.String()
		if err := e.undo(ctx, &st, j, false); err != nil {
			return nil, err
		}
		return resume, nil
	case PhaseUndo:
		if err := e.revert(ctx, &st, j, false); err != nil {
			return nil, err
		}
		return resume, nil
	default: // PhaseGate, PhaseCommit, PhaseUndoGate: the gateway's start continues it
		e.log().Warn("an unfinished "+j.Kind+" continues with this start", "phase", j.Phase, "from", j.From.String(), "to", j.To.String())
		return resume, nil
	}
}

// drive runs j from its phase to the end. When ctx ends (openclawd
// stopping), the journal stays as it is: the next start's Recover deals
// with it, as after a kill.
func (e *Engine) drive(ctx context.Context, st *State, j *Journal) (Outcome, error) {
	h := e.Host
	for {
		if err := ctx.Err(); err != nil {
			return Outcome{}, fmt.Errorf("%s stopped in its %s step (the next start finishes or undoes it): %w", j.Kind, j.Phase, err)
		}
		var err error
		switch j.Phase {
		case PhaseInstall:
			if err := h.Install(ctx, j.Plan); ctx.Err() != nil {
				continue // the loop's top returns; the journal stays
			} else if err != nil {
				return e.finish(st, j, ResultRefused, fmt.Sprintf("installing %s failed, so nothing was changed: %v", j.To, err))
			}
			err = e.enter(st, j, PhaseSnapshot, "")
		case PhaseSnapshot:
			// After the install, the longest step: the snapshot is as
			// fresh as it can be when the gateway stops.
			if err := h.Snapshot(ctx, j.Snapshot); ctx.Err() != nil {
				continue // the loop's top returns; the journal stays
			} else if err != nil {
				return e.finish(st, j, ResultRefused, fmt.Sprintf("the backup before the %s failed, so nothing was changed: %v", j.Kind, err))
			}
			err = e.enter(st, j, PhasePreflight, "")
		case PhasePreflight:
			db := cmp.Or(j.Restore, j.Snapshot) // the state To will run on
			if err := h.Preflight(ctx, j.To, db); ctx.Err() != nil {
				continue // the loop's top returns; the journal stays
			} else if err != nil {
				return e.finish(st, j, ResultRefused, fmt.Sprintf("%s refused the state database, so nothing was changed: %v", j.To, err))
			}
			err = e.enter(st, j, PhaseSwitch, "")
		case PhaseSwitch:
			if err := h.Stop(ctx, fmt.Sprintf("%s to %s", j.Kind, j.To)); err != nil {
				h.Start()
				return e.finish(st, j, ResultRefused, fmt.Sprintf("the gateway could not be stopped for the switch, so nothing was changed: %v", err))
			}
			err = h.Point(j.To)
			if err == nil && j.Restore != "" {
				if err = e.touch(st, j); err == nil {
					err = h.RestoreState(ctx, j.Restore)
				}
			}
			if err != nil {
				j.Reason = fmt.Sprintf("switching to %s failed: %v", j.To, err)
				err = e.undo(ctx, st, j, true)
				break
			}
			// Written before the start: from here on, the state may be
			// migrated, and only the snapshot undoes that.
			j.Touched = true
			if err = e.enter(st, j, PhaseGate, ""); err == nil {
				h.Start()
			}
		case PhaseGate:
			if gerr := h.Gate(ctx, phaseSince(j), e.Stable); ctx.Err() != nil {
				continue
			} else if gerr != nil {
				j.Reason = fmt.Sprintf("%s failed its health gate: %v", j.To, gerr)
				j.Failed = true
				e.log().Error(j.Reason+"; rolling back to "+j.From.String()+" and its state", "id", j.ID)
				// Written before the stop, which may take minutes: a
				// restart meanwhile undoes, never gates the target again.
				if err = e.enter(st, j, PhaseUndo, j.Reason); err == nil {
					if err = h.Stop(ctx, "rolling back to "+j.From.String()); err == nil {
						err = e.revert(ctx, st, j, true)
					}
				}
				break
			}
			err = e.enter(st, j, PhaseCommit, "")
		case PhaseCommit:
			return e.commit(st, j)
		case PhaseUndoGate:
			state := "on the state it had: the target never ran"
			if j.Touched {
				state = fmt.Sprintf("on the state from just before the %s (%s)", j.Kind, j.Started.Format(time.RFC3339))
			}
			if gerr := h.Gate(ctx, phaseSince(j), e.Stable); ctx.Err() != nil {
				continue
			} else if gerr != nil {
				return e.finish(st, j, ResultFailed, fmt.Sprintf("%s; rolled back to %s %s, but that is not healthy either: %v", j.Reason, j.From, state, gerr))
			}
			return e.finish(st, j, ResultRolledBack, fmt.Sprintf("%s; rolled back: %s runs again %s", j.Reason, j.From, state))
		default:
			return Outcome{}, fmt.Errorf("upgrade journal in unknown phase %q", j.Phase)
		}
		if err != nil {
			return Outcome{Result: ResultFailed, Reason: err.Error()}, err
		}
	}
}

// undo enters PhaseUndo and reverts.
func (e *Engine) undo(ctx context.Context, st *State, j *Journal, started bool) error {
	if err := e.enter(st, j, PhaseUndo, j.Reason); err != nil {
		return err
	}
	return e.revert(ctx, st, j, started)
}

// revert puts From and the snapshot's state back and starts the gateway
// on them (when started is true; offline, the daemon's start does that).
// The gateway is stopped; the journal is in PhaseUndo.
func (e *Engine) revert(ctx context.Context, st *State, j *Journal, started bool) error {
	if err := e.Host.Point(j.From); err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	// Until To's gateway started or a state swap began, the live state
	// is the one From left: putting the snapshot back would only lose
	// what the gateway wrote since it was taken.
	if j.Touched {
		if err := e.Host.RestoreState(ctx, j.Snapshot); err != nil {
			return fmt.Errorf("rolling back: putting the state from %s back: %w", j.Snapshot, err)
		}
	}
	if err := e.enter(st, j, PhaseUndoGate, ""); err != nil {
		return err
	}
	if started {
		e.Host.Start()
	}
	return nil
}

// commit ends a transaction whose target passed its gate.
func (e *Engine) commit(st *State, j *Journal) (Outcome, error) {
	if j.Restore != "" && st.Previous != nil && st.Previous.Snapshot == j.Restore {
		st.Previous = nil // consumed: a rollback's previous is what it left
	}
	st.Previous = &Previous{Runtime: j.From, Snapshot: j.Snapshot, Left: j.Started}
	st.StableSince = e.now().UTC()
	st.Blocked = slices.DeleteFunc(st.Blocked, func(b Block) bool { return b.Runtime.Same(j.To) })
	// Pruned before the outcome is recorded: whoever waits for it finds
	// the transaction wholly over (a restart in between prunes again).
	e.Host.Prune(j.From, j.To)
	return e.finish(st, j, ResultDone, fmt.Sprintf("%s is running and passed its health gate; `openclawd rollback` returns to %s and the state from %s", j.To, j.From, j.Started.Format(time.RFC3339)))
}

// finish records the outcome and ends the journal.
func (e *Engine) finish(st *State, j *Journal, result, reason string) (Outcome, error) {
	j.Steps = append(j.Steps, Step{Phase: result, At: e.now().UTC(), Note: reason})
	o := Outcome{ID: j.ID, Kind: j.Kind, From: j.From, To: j.To, Result: result, Reason: reason,
		Started: j.Started, Finished: e.now().UTC(), Steps: j.Steps}
	if result == ResultRolledBack && j.Failed {
		st.Blocked = slices.DeleteFunc(st.Blocked, func(b Block) bool { return b.Runtime.Same(j.To) })
		st.Blocked = append(st.Blocked, Block{Runtime: j.To, Reason: j.Reason, At: o.Finished})
	}
	if j.Wanted != "" {
		st.Seen = j.Wanted
	}
	st.Journal, st.Last = nil, &o
	if err := e.Store.Save(*st); err != nil {
		return o, err
	}
	e.removeSnapshots(*st)
	lvl := slog.LevelInfo
	if result != ResultDone {
		lvl = slog.LevelError
	}
	e.log().Log(context.Background(), lvl, j.Kind+" "+result, "id", j.ID, "from", j.From.String(), "to", j.To.String(),
		"took", o.Finished.Sub(j.Started).Round(time.Second), "reason", reason)
	return o, nil
}

// touch records, before it happens, that the live state is about to change.
func (e *Engine) touch(st *State, j *Journal) error {
	j.Touched = true
	st.Journal = j
	return e.Store.Save(*st)
}

// enter writes j in phase before the phase's work starts.
func (e *Engine) enter(st *State, j *Journal, phase, note string) error {
	j.Phase = phase
	j.Steps = append(j.Steps, Step{Phase: phase, At: e.now().UTC(), Note: note})
	st.Journal = j
	if err := e.Store.Save(*st); err != nil {
		return err
	}
	e.log().Info(j.Kind+": "+phase, "id", j.ID, "to", j.To.String(), "note", note)
	return nil
}

// removeSnapshots keeps only the snapshots st still names.
func (e *Engine) removeSnapshots(st State) {
	keep := map[string]bool{}
	if st.Previous != nil {
		keep[st.Previous.Snapshot] = true
	}
	if st.Journal != nil {
		keep[st.Journal.Snapshot], keep[st.Journal.Restore] = true, true
	}
	ents, _ := os.ReadDir(e.Store.Dir)
	for _, ent := range ents {
		p := filepath.Join(e.Store.Dir, ent.Name())
		if strings.HasPrefix(ent.Name(), "snapshot-") && !keep[p] {
			_ = os.Remove(p)
		}
	}
}

// phaseSince is when the journal's phase began.
func phaseSince(j *Journal) time.Time {
	if n := len(j.Steps); n > 0 {
		return j.Steps[n-1].At
	}
	return j.Started
}
