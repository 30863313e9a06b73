package backup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// restoreCase is a live state dir (b's) with a's archive staged in it.
type restoreCase struct {
	b                 fixture
	s                 Staged
	archive           string
	orig, restored    map[string]string // snapItems of each
	failed, aside     string
	stagedItem, items func(string) string
}

// archiveA is an archive of a fixture tagged a.
func archiveA(t *testing.T) string {
	t.Helper()
	return newFixture(t, "a").create(t).Path
}

// newRestore stages archive (archiveA's) in a new fixture b; without is a
// live item b lacks.
func newRestore(t *testing.T, archive, without string) restoreCase {
	t.Helper()
	b := newFixture(t, "b")
	if without != "" {
		if err := os.RemoveAll(filepath.Join(b.l.Root, without)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Stage(archive, b.l, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc := restoreCase{b: b, s: s, archive: archive,
		orig: snapItems(t, b.l.Root), restored: snapItems(t, s.Dir),
		failed: filepath.Join(b.l.Restore(), "failed-"+s.ID), aside: filepath.Join(b.l.Restore(), "before-"+s.ID)}
	for _, it := range Items {
		if rc.orig[it] == rc.restored[it] {
			t.Fatalf("%s: the live and the restored are the same", it)
		}
	}
	return rc
}

// wantLive fails t unless each live item is want's.
func (rc restoreCase) wantItems(t *testing.T, root string, want map[string]string, what string) {
	t.Helper()
	got := snapItems(t, root)
	for _, it := range Items {
		if got[it] != want[it] {
			t.Errorf("%s %s differs (+got -want):\n%s", what, it, diff(got[it], want[it]))
		}
	}
}

func TestActivateUndo(t *testing.T) {
	archive := archiveA(t)
	for _, without := range []string{"", "caddy", "secrets"} {
		t.Run("without "+without, func(t *testing.T) {
			t.Parallel()
			rc := newRestore(t, archive, without)
			l := rc.b.l
			j, err := Activate(l, rc.s, rc.archive)
			if err != nil {
				t.Fatalf("Activate: %v", err)
			}
			if j.Phase != PhaseGate || !slices.Equal(j.Swapped, Items) || j.Aside != rc.aside || j.Staged != rc.s.Dir ||
				j.Archive != rc.archive || !j.Created.Equal(testNow) || j.ID != rc.s.ID {
				t.Errorf("journal %+v", j)
			}
			rc.wantItems(t, l.Root, rc.restored, "live after Activate")
			rc.wantItems(t, rc.aside, rc.orig, "before- after Activate")
			p, err := Pending(l)
			if err != nil || p == nil || p.Phase != PhaseGate || !slices.Equal(p.Swapped, Items) || p.Aside != j.Aside {
				t.Errorf("Pending = %+v, %v", p, err)
			}
			// One restore at a time.
			s2, err := Stage(rc.archive, l, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Activate(l, s2, rc.archive); err == nil || !strings.Contains(err.Error(), "has not finished") {
				t.Errorf("a second Activate: %v", err)
			}
			if err := os.RemoveAll(s2.Dir); err != nil {
				t.Fatal(err)
			}

			if err := Undo(l, j); err != nil {
				t.Fatalf("Undo: %v", err)
			}
			rc.wantItems(t, l.Root, rc.orig, "live after Undo")
			rc.wantItems(t, rc.failed, rc.restored, "failed- after Undo")
			if p, err := Pending(l); p != nil || err != nil {
				t.Errorf("Pending after Undo = %+v, %v", p, err)
			}
			if got, want := names(t, l.Restore()), []string{filepath.Base(rc.failed)}; !slices.Equal(got, want) {
				t.Errorf("restore/ after Undo: %q, want %q", got, want)
			}
			// Again: nothing to do, nothing changes.
			if err := Undo(l, j); err != nil {
				t.Fatal(err)
			}
			rc.wantItems(t, l.Root, rc.orig, "live after a second Undo")
			rc.wantItems(t, rc.failed, rc.restored, "failed- after a second Undo")
		})
	}
}

func TestActivateCommit(t *testing.T) {
	rc := newRestore(t, archiveA(t), "")
	l := rc.b.l
	j, err := Activate(l, rc.s, rc.archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := Commit(l, j); err != nil {
		t.Fatal(err)
	}
	rc.wantItems(t, l.Root, rc.restored, "live after Commit")
	rc.wantItems(t, rc.aside, rc.orig, "before- after Commit")
	if p, err := Pending(l); p != nil || err != nil {
		t.Errorf("Pending after Commit = %+v, %v", p, err)
	}
	if got, want := names(t, l.Restore()), []string{filepath.Base(rc.aside)}; !slices.Equal(got, want) {
		t.Errorf("restore/ after Commit: %q, want %q", got, want)
	}
}

func TestActivateRefuses(t *testing.T) {
	rc := newRestore(t, archiveA(t), "")
	l := rc.b.l
	if err := os.Mkdir(rc.aside, 0o700); err != nil {
		t.Fatal(err)
	}
	if j, err := Activate(l, rc.s, rc.archive); err == nil || j != nil {
		t.Errorf("Activate over an existing before- dir = %+v, %v", j, err)
	}
	rc.wantItems(t, l.Root, rc.orig, "live")
	if p, err := Pending(l); p != nil || err != nil {
		t.Errorf("Pending = %+v, %v", p, err)
	}
}

// A swap that fails part way returns its journal, and Undo puts back
// what it moved.
func TestActivateFailsUndo(t *testing.T) {
	rc := newRestore(t, archiveA(t), "")
	l := rc.b.l
	if err := os.RemoveAll(filepath.Join(rc.s.Dir, "caddy")); err != nil {
		t.Fatal(err)
	}
	j, err := Activate(l, rc.s, rc.archive)
	if err == nil || j == nil || !strings.Contains(err.Error(), "moving the restored caddy in") {
		t.Fatalf("Activate without a staged caddy = %+v, %v", j, err)
	}
	if p, _ := Pending(l); p == nil || p.Phase != PhaseSwapping {
		t.Errorf("Pending = %+v, want the swap's journal", p)
	}
	if _, err := os.Lstat(filepath.Join(l.Root, "caddy")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("live caddy: %v, want it moved aside", err)
	}
	if err := Undo(l, j); err != nil {
		t.Fatal(err)
	}
	rc.wantItems(t, l.Root, rc.orig, "live after Undo")
}

// activateSteps does what Activate does, one durable step at a time: the
// journal before the first swap, for each item the journal, the rename of
// the live one aside and the rename of the staged one in, and the journal
// in its gate phase.
func activateSteps(t *testing.T, l fixture, s Staged, archive string) []func() {
	j := &Journal{ID: s.ID, Phase: PhaseSwapping, Started: time.Now().UTC(), Archive: archive, Created: s.Manifest.Created,
		Staged: s.Dir, Aside: filepath.Join(l.l.Restore(), "before-"+s.ID)}
	must := func(err error) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	steps := []func(){func() {
		must(os.Mkdir(j.Aside, 0o700))
		must(writeJournal(l.l, j))
	}}
	for _, it := range Items {
		steps = append(steps,
			func() { j.Swapped = append(j.Swapped, it); must(writeJournal(l.l, j)) },
			func() { must(os.Rename(filepath.Join(l.l.Root, it), filepath.Join(j.Aside, it))) },
			func() { must(os.Rename(filepath.Join(j.Staged, it), filepath.Join(l.l.Root, it))) })
	}
	return append(steps, func() { j.Phase = PhaseGate; must(writeJournal(l.l, j)) })
}

// Whatever step of a swap is interrupted, Undo puts the previous state
// back exactly: never a mix of both.
func TestUndoInterruptedActivate(t *testing.T) {
	n := len(activateSteps(t, fixture{}, Staged{}, ""))
	archive := archiveA(t)
	for done := range n + 1 {
		for _, retry := range []bool{false, true} {
			name := "after step " + string(rune('0'+done/10)) + string(rune('0'+done%10))
			if retry {
				name += ", Undo fails then runs again"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				rc := newRestore(t, archive, "")
				l := rc.b.l
				for _, step := range activateSteps(t, rc.b, rc.s, rc.archive)[:done] {
					step()
				}
				j, err := Pending(l)
				if err != nil {
					t.Fatal(err)
				}
				if done == 0 {
					if j != nil {
						t.Fatalf("Pending before the journal = %+v", j)
					}
					rc.wantItems(t, l.Root, rc.orig, "live")
					return
				}
				if j == nil {
					t.Fatal("no journal")
				}
				if retry {
					// The journal cannot be removed: Undo fails at its end,
					// and is run again (at the next start).
					if err := os.Remove(journalPath(l)); err != nil {
						t.Fatal(err)
					}
					write(t, filepath.Join(journalPath(l), "x"), nil)
					// (A journal in the gate phase is rewritten first, so
					// that fails at once, before anything moves.)
					if err := Undo(l, j); err == nil || !strings.Contains(err.Error(), "removing the journal") && !strings.Contains(err.Error(), "writing the journal") {
						t.Fatalf("Undo with a journal it cannot remove: %v", err)
					}
					if err := os.RemoveAll(journalPath(l)); err != nil {
						t.Fatal(err)
					}
					if err := writeJournal(l, j); err != nil {
						t.Fatal(err)
					}
				}
				if err := Undo(l, j); err != nil {
					t.Fatalf("Undo: %v", err)
				}
				rc.wantItems(t, l.Root, rc.orig, "live after Undo")
				for i, it := range Items {
					want := "absent"
					if done > 1+3*i+2 { // the restored item was swapped in
						want = rc.restored[it]
					}
					if got := snap(t, filepath.Join(rc.failed, it)); got != want {
						t.Errorf("failed-/%s differs (+got -want):\n%s", it, diff(got, want))
					}
				}
				if p, err := Pending(l); p != nil || err != nil {
					t.Errorf("Pending after Undo = %+v, %v", p, err)
				}
			})
		}
	}
}

// Undo interrupted itself, after any of its renames, finishes when run
// again.
func TestUndoInterruptedUndo(t *testing.T) {
	archive := archiveA(t)
	for k := range 2*len(Items) + 1 {
		t.Run("after "+string(rune('0'+k))+" renames", func(t *testing.T) {
			t.Parallel()
			rc := newRestore(t, archive, "")
			l := rc.b.l
			j, err := Activate(l, rc.s, rc.archive)
			if err != nil {
				t.Fatal(err)
			}
			// Undo's renames, last item first: the restored one out, the
			// previous one back.
			var renames [][2]string
			for _, it := range slices.Backward(Items) {
				renames = append(renames,
					[2]string{filepath.Join(l.Root, it), filepath.Join(rc.failed, it)},
					[2]string{filepath.Join(rc.aside, it), filepath.Join(l.Root, it)})
			}
			if err := os.Mkdir(rc.failed, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, r := range renames[:k] {
				if err := os.Rename(r[0], r[1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := Undo(l, j); err != nil {
				t.Fatalf("Undo: %v", err)
			}
			rc.wantItems(t, l.Root, rc.orig, "live after Undo")
			rc.wantItems(t, rc.failed, rc.restored, "failed- after Undo")
		})
	}
}

func TestPending(t *testing.T) {
	b := newFixture(t, "b")
	l := b.l
	if j, err := Pending(l); j != nil || err != nil {
		t.Errorf("Pending without a journal = %+v, %v", j, err)
	}
	r := l.Restore()
	good := Journal{ID: "x", Phase: PhaseSwapping, Staged: filepath.Join(r, "staged-x"), Aside: filepath.Join(r, "before-x"), Swapped: []string{"openclaw"}}
	if err := writeJournal(l, &good); err != nil {
		t.Fatal(err)
	}
	if j, err := Pending(l); err != nil || j == nil || j.Staged != good.Staged || !slices.Equal(j.Swapped, good.Swapped) {
		t.Errorf("Pending = %+v, %v", j, err)
	}
	tests := []struct {
		name   string
		staged string
		aside  string
	}{
		{"staged in the state dir", filepath.Join(l.Root, "staged-x"), good.Aside},
		{"aside in the state dir", good.Staged, filepath.Join(l.Root, "openclaw")},
		{"staged up and out", filepath.Join(r, "..", "..", "etc"), good.Aside},
		{"aside absolute elsewhere", good.Staged, "/etc"},
		{"staged relative", "staged-x", good.Aside},
		{"aside deeper", good.Staged, filepath.Join(r, "before-x", "openclaw")},
		{"aside empty", good.Staged, ""},
		{"staged is the restore dir's parent", filepath.Join(r, ".."), good.Aside},
		{"staged of another id", filepath.Join(r, "staged-y"), good.Aside},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := good
			j.Staged, j.Aside = tc.staged, tc.aside
			if err := writeJournal(l, &j); err != nil {
				t.Fatal(err)
			}
			p, err := Pending(l)
			if err == nil || p != nil || !strings.Contains(err.Error(), ", not "+r+"/") || !strings.Contains(err.Error(), "check by hand") {
				t.Errorf("Pending = %+v, %v", p, err)
			}
		})
	}
	write(t, journalPath(l), []byte(`{"id":`))
	if p, err := Pending(l); err == nil || p != nil || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "move it away") {
		t.Errorf("Pending of a damaged journal = %+v, %v", p, err)
	}
}

func TestCommitKeepsTwo(t *testing.T) {
	b := newFixture(t, "b")
	r := b.l.Restore()
	base := time.Now().Add(-time.Hour)
	// Named after the backups' times; made (mtime) in another order: an
	// older backup may be restored after a newer one.
	dirs := []struct {
		name string
		made time.Duration // after base
	}{
		{"before-20261201T000000Z-1", 1 * time.Minute},
		{"failed-20261210T000000Z-2", 2 * time.Minute},
		{"before-20261205T000000Z-3", 3 * time.Minute},
		{"failed-20261101T000000Z-4", 4 * time.Minute}, // the last before this one
		{"before-20261001T000000Z-5", 5 * time.Minute}, // this restore's, of an old backup
	}
	for _, d := range dirs {
		write(t, filepath.Join(r, d.name, "openclaw", "openclaw.json"), []byte("{}"))
		if err := os.Chtimes(filepath.Join(r, d.name), base.Add(d.made), base.Add(d.made)); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(r, "staged-20261001T000000Z-5", "config", "openclawd.yaml"), nil)
	write(t, filepath.Join(r, "unrelated"), nil)
	j := &Journal{ID: "20261001T000000Z-5", Phase: PhaseGate, Staged: filepath.Join(r, "staged-20261001T000000Z-5"), Aside: filepath.Join(r, "before-20261001T000000Z-5")}
	if err := writeJournal(b.l, j); err != nil {
		t.Fatal(err)
	}
	if err := Commit(b.l, j); err != nil {
		t.Fatal(err)
	}
	// A failed restore never displaces a previous state: those are kept
	// apart (this restore's and the newest other), and of the failed ones
	// the newest.
	if got, want := names(t, r), []string{"before-20261001T000000Z-5", "before-20261205T000000Z-3", "failed-20261101T000000Z-4", "unrelated"}; !slices.Equal(got, want) {
		t.Errorf("restore/ after Commit: %q, want %q: this restore's previous state, the last before it, and the newest failed one", got, want)
	}
	// With nothing else there, Commit keeps this restore's.
	j2 := &Journal{ID: "y", Staged: filepath.Join(r, "staged-y"), Aside: filepath.Join(r, "before-20261001T000000Z-5")}
	if err := Commit(b.l, j2); err != nil {
		t.Fatal(err)
	}
	if got := names(t, r); !slices.Contains(got, "before-20261001T000000Z-5") {
		t.Errorf("restore/ after a second Commit: %q", got)
	}
}
