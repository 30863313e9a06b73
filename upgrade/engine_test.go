package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/runtime/provision"
)

// world is a host in miniature: a current runtime, a live state that a
// newer gateway migrates (after which an older one can't start, as the
// real gateway exits 78 on a newer database), snapshots as files, and a
// kill -9 after any number of steps.
type world struct {
	t        *testing.T
	current  Runtime
	state    string // the live state: "v1" or "v1+migrated-by-<openclaw>"
	running  bool
	bad      map[string]bool // openclaw versions whose gateway never becomes healthy
	badPre   map[string]bool // openclaw versions whose preflight refuses
	failStep string          // a step that returns an error
	crashAt  int             // kill -9 at this call (0: never)
	calls    int
	log      []string
	pruned   [][]Runtime
}

type killed struct{}

func (w *world) call(step string) error {
	w.calls++
	w.log = append(w.log, step)
	if w.crashAt > 0 && w.calls == w.crashAt {
		w.running = false // openclawd and the gateway it ran are gone
		panic(killed{})
	}
	if w.failStep == step {
		return fmt.Errorf("%s failed on cue", step)
	}
	return nil
}

func (w *world) Snapshot(_ context.Context, dst string) error {
	if err := w.call("snapshot"); err != nil {
		return err
	}
	return os.WriteFile(dst, []byte(w.state), 0o600)
}

func (w *world) Install(_ context.Context, p Plan) error { return w.call("install") }

func (w *world) Preflight(_ context.Context, rt Runtime, archive string) error {
	if err := w.call("preflight"); err != nil {
		return err
	}
	if _, err := os.Stat(archive); err != nil {
		return err
	}
	if w.badPre[rt.Openclaw] {
		return errors.New(`status "incompatible"`)
	}
	return nil
}

func (w *world) Stop(context.Context, string) error {
	err := w.call("stop")
	if err == nil {
		w.running = false
	}
	return err
}

func (w *world) Point(rt Runtime) error {
	if err := w.call("point " + rt.Openclaw); err != nil {
		return err
	}
	w.current = rt
	return nil
}

func (w *world) RestoreState(_ context.Context, archive string) error {
	if w.running {
		w.t.Errorf("state restored under a running gateway")
	}
	if err := w.call("restore"); err != nil {
		return err
	}
	b, err := os.ReadFile(archive)
	if err != nil {
		return err
	}
	w.state = string(b)
	return nil
}

func (w *world) Start() {
	w.running = true
	w.log = append(w.log, "start "+w.current.Openclaw)
	// A newer gateway migrates the state as it starts.
	if w.current.Openclaw > "2" && !strings.Contains(w.state, "migrated") {
		w.state += "+migrated-by-" + w.current.Openclaw
	}
}

func (w *world) healthy() bool {
	if !w.running || w.bad[w.current.Openclaw] {
		return false
	}
	// An older gateway can't read a database a newer one migrated.
	return !strings.Contains(w.state, "migrated") || strings.Contains(w.state, "migrated-by-"+w.current.Openclaw)
}

func (w *world) Gate(context.Context, time.Time, time.Duration) error {
	if err := w.call("gate"); err != nil {
		return err
	}
	if !w.healthy() {
		return fmt.Errorf("gateway %s not healthy on state %q", w.current.Openclaw, w.state)
	}
	return nil
}

func (w *world) Prune(keep ...Runtime) { w.pruned = append(w.pruned, keep) }

var (
	rtOld = Runtime{Node: "24.21.0", Openclaw: "1.0.0", Dirs: provision.Current{Node: "node-24.21.0-linux-x64", Openclaw: "openclaw-1.0.0"}}
	rtNew = Runtime{Node: "24.21.0", Openclaw: "2.0.0", Dirs: provision.Current{Node: "node-24.21.0-linux-x64", Openclaw: "openclaw-2.0.0"}}
)

func newEngine(t *testing.T, dir string, w *world) *Engine {
	return &Engine{Store: Store{Dir: dir}, Host: w, Stable: time.Second}
}

// run runs a transaction; a kill -9 ends it early.
func run(e *Engine, p Plan) (o Outcome, err error, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killed); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	o, err = e.Run(context.Background(), p)
	return
}

// restart is openclawd's next start: Recover, the gateway's start, and
// what Recover left to do.
func restart(e *Engine, w *world) (o *Outcome, err error, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killed); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	resume, err := e.Recover(context.Background())
	if err != nil {
		return nil, err, false
	}
	w.Start()
	if resume == nil {
		return nil, nil, false
	}
	out, err := resume(context.Background())
	return &out, err, false
}

func TestTransactions(t *testing.T) {
	tests := []struct {
		name     string
		to       Runtime
		bad      bool // To's gateway fails its gate
		badPre   bool // To's preflight refuses the state
		failStep string
		result   string
		current  Runtime
		state    string
		blocked  bool
	}{
		{name: "upgrade passes", to: rtNew, result: ResultDone, current: rtNew, state: "v1+migrated-by-2.0.0"},
		{name: "target fails its gate", to: rtNew, bad: true, result: ResultRolledBack, current: rtOld, state: "v1", blocked: true},
		{name: "preflight refuses", to: rtNew, badPre: true, result: ResultRefused, current: rtOld, state: "v1"},
		{name: "install fails", to: rtNew, failStep: "install", result: ResultRefused, current: rtOld, state: "v1"},
		{name: "snapshot fails", to: rtNew, failStep: "snapshot", result: ResultRefused, current: rtOld, state: "v1"},
		{name: "gateway won't stop", to: rtNew, failStep: "stop", result: ResultRefused, current: rtOld, state: "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := &world{t: t, current: rtOld, state: "v1", running: true, failStep: tt.failStep,
				bad: map[string]bool{tt.to.Openclaw: tt.bad}, badPre: map[string]bool{tt.to.Openclaw: tt.badPre}}
			e := newEngine(t, dir, w)
			o, err := e.Run(context.Background(), Plan{ID: "20261206T000000Z", Kind: KindUpgrade, From: rtOld, To: tt.to})
			if err != nil {
				t.Fatal(err)
			}
			if o.Result != tt.result || w.current != tt.current || w.state != tt.state || !w.running {
				t.Fatalf("outcome %s (%s), current %s, state %q, running %v; want %s, %s, %q, running\nsteps %v",
					o.Result, o.Reason, w.current, w.state, w.running, tt.result, tt.current, tt.state, w.log)
			}
			st, err := e.Store.Load()
			if err != nil {
				t.Fatal(err)
			}
			if st.Journal != nil || st.Last == nil || st.Last.Result != tt.result {
				t.Errorf("state after: %+v", st)
			}
			if got := st.BlockOf(tt.to) != nil; got != tt.blocked {
				t.Errorf("blocked %v, want %v", got, tt.blocked)
			}
			if tt.result == ResultDone {
				if st.Previous == nil || st.Previous.Runtime != rtOld || len(w.pruned) != 1 {
					t.Errorf("previous %+v, pruned %v", st.Previous, w.pruned)
				}
				if _, err := os.Stat(st.Previous.Snapshot); err != nil {
					t.Errorf("the rollback snapshot is gone: %v", err)
				}
				// And back: a rollback restores the old runtime with its state.
				o, err := e.Run(context.Background(), Plan{ID: "20261206T000100Z", Kind: KindRollback, From: rtNew, To: rtOld, Restore: st.Previous.Snapshot})
				if err != nil || o.Result != ResultDone || w.current != rtOld || w.state != "v1" {
					t.Fatalf("rollback: %s (%s) %v; current %s state %q", o.Result, o.Reason, err, w.current, w.state)
				}
				st, _ := e.Store.Load()
				snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*"))
				if st.Previous == nil || st.Previous.Runtime != rtNew || len(snaps) != 1 || snaps[0] != st.Previous.Snapshot {
					t.Errorf("after rollback: previous %+v, snapshots %v", st.Previous, snaps)
				}
			} else if snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*")); len(snaps) != 0 {
				t.Errorf("snapshots left after %s: %v", tt.result, snaps)
			}
		})
	}
}

// TestKilledAtEveryStep kills openclawd at each step of a transaction,
// and again at each step of the restart that recovers it: whatever the
// moment, the end is one runtime with its own state, never a mix, and no
// journal left.
func TestKilledAtEveryStep(t *testing.T) {
	kills := 0
	defer func() {
		// Four transactions of about eight steps, some of whose
		// restarts are killed again at each of theirs.
		if kills < 30 {
			t.Errorf("only %d kills exercised", kills)
		}
		t.Logf("%d kills, each recovered", kills)
	}()
	for _, bad := range []bool{false, true} {
		for _, kind := range []string{KindUpgrade, KindRollback} {
			for first := 1; ; first++ {
				name := fmt.Sprintf("%s bad=%v kill at %d", kind, bad, first)
				done := true
				for second := 0; second < 12; second++ {
					crashed, finished := killTwice(t, name, kind, bad, first, second)
					if !crashed {
						done = true
						break
					}
					done = false
					kills++
					if finished {
						break
					}
				}
				if done {
					break
				}
			}
		}
	}
}

// killTwice runs one transaction killed at call first, then a restart
// killed at its call second (0: not), then a clean restart; it checks the
// end state. crashed says whether the first kill happened.
func killTwice(t *testing.T, name, kind string, bad bool, first, second int) (crashed, finished bool) {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, current: rtOld, state: "v1", running: true, bad: map[string]bool{rtNew.Openclaw: bad, rtOld.Openclaw: false}, badPre: map[string]bool{}}
	p := Plan{ID: "20261206T000000Z", Kind: KindUpgrade, From: rtOld, To: rtNew}
	wantFrom := "v1"
	if kind == KindRollback {
		w.bad = map[string]bool{}
		// Upgraded first (cleanly), then the rollback is the one killed.
		if o, err := newEngine(t, dir, w).Run(context.Background(), p); err != nil || o.Result != ResultDone {
			t.Fatalf("%s: setup upgrade: %v %+v", name, err, o)
		}
		st, _ := (Store{Dir: dir}).Load()
		w.state += "+chat" // the new version's own writes since the upgrade
		wantFrom = w.state
		p = Plan{ID: "20261206T000100Z", Kind: KindRollback, From: rtNew, To: rtOld, Restore: st.Previous.Snapshot}
		w.bad = map[string]bool{rtOld.Openclaw: bad}
	}
	w.calls, w.crashAt = 0, first
	o, err, crashed := run(newEngine(t, dir, w), p)
	if !crashed {
		check(t, name, w, dir, p, &o, err, wantFrom)
		return false, true
	}
	var out *Outcome
	w.calls, w.crashAt = 0, second
	out, err, crashed2 := restart(newEngine(t, dir, w), w)
	if crashed2 {
		w.calls, w.crashAt = 0, 0
		out, err, _ = restart(newEngine(t, dir, w), w)
	}
	check(t, fmt.Sprintf("%s, restart killed at %d", name, second), w, dir, p, out, err, wantFrom)
	return true, !crashed2
}

func check(t *testing.T, name string, w *world, dir string, p Plan, o *Outcome, err error, wantFrom string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v (steps %v)", name, err, w.log)
	}
	st, err := (Store{Dir: dir}).Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.Journal != nil {
		t.Fatalf("%s: journal left in %s (steps %v)", name, st.Journal.Phase, w.log)
	}
	if !w.running {
		t.Fatalf("%s: the gateway is not running (steps %v)", name, w.log)
	}
	switch {
	case w.current == p.To:
		if st.Last.Result != ResultDone || !w.healthy() {
			t.Fatalf("%s: on %s with %s (%s), healthy %v, state %q (steps %v)", name, p.To, st.Last.Result, st.Last.Reason, w.healthy(), w.state, w.log)
		}
	case w.current == p.From:
		if w.state != wantFrom || !w.healthy() || st.Last.Result == ResultDone {
			t.Fatalf("%s: back on %s with state %q (want %q), healthy %v, last %+v (steps %v)", name, p.From, w.state, wantFrom, w.healthy(), st.Last, w.log)
		}
	default:
		t.Fatalf("%s: current is %s (steps %v)", name, w.current, w.log)
	}
	if o != nil && o.Result != st.Last.Result {
		t.Errorf("%s: outcome %s, recorded %s", name, o.Result, st.Last.Result)
	}
}

func TestStateRefusesForeignNames(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		st   State
	}{
		{"snapshot outside", State{Previous: &Previous{Snapshot: "/etc/shadow"}}},
		{"runtime dir escapes", State{Journal: &Journal{Plan: Plan{ID: "20261206T000000Z", From: Runtime{Dirs: provision.Current{Node: "../../x"}}}, Phase: PhaseGate}}},
		{"bad id", State{Journal: &Journal{Plan: Plan{ID: "../x"}, Phase: PhaseGate}}},
		{"bad phase", State{Journal: &Journal{Plan: Plan{ID: "20261206T000000Z"}, Phase: "rm -rf"}}},
		{"lockfile dir elsewhere", State{Journal: &Journal{Plan: Plan{ID: "20261206T000000Z", Install: Install{LockDir: dir + "/.."}}, Phase: PhaseInstall}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Store{Dir: dir}
			if err := s.Save(tt.st); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "move it away") {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestStopLeavesTheJournal: openclawd stopping mid-step (its context
// ends) records no outcome; the next start's Recover deals with it.
func TestStopLeavesTheJournal(t *testing.T) {
	for _, phase := range []string{"install", "snapshot", "preflight", "gate"} {
		t.Run(phase, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			w := &world{t: t, current: rtOld, state: "v1", running: true, bad: map[string]bool{}, badPre: map[string]bool{}}
			h := &cancelAt{world: w, phase: phase, cancel: cancel}
			e := &Engine{Store: Store{Dir: dir}, Host: h}
			if _, err := e.Run(ctx, Plan{ID: "20261206T000000Z", Kind: KindUpgrade, From: rtOld, To: rtNew}); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v", err)
			}
			st, _ := e.Store.Load()
			if st.Journal == nil || st.Journal.Phase != phase || st.Last != nil {
				t.Fatalf("after the stop: journal %+v, last %+v", st.Journal, st.Last)
			}
			w.running = false
			if _, err, _ := restart(&Engine{Store: Store{Dir: dir}, Host: w}, w); err != nil {
				t.Fatal(err)
			}
			st, _ = e.Store.Load()
			if st.Journal != nil || st.Last == nil || !w.running || !w.healthy() {
				t.Fatalf("after the restart: %+v, healthy %v", st, w.healthy())
			}
		})
	}
}

// cancelAt ends the context during one step, whose error is then the
// context's, as a step's child killed at shutdown returns.
type cancelAt struct {
	*world
	phase  string
	cancel context.CancelFunc
}

func (c *cancelAt) stop(step string) error {
	if step == c.phase {
		c.cancel()
		return context.Canceled
	}
	return nil
}

func (c *cancelAt) Install(ctx context.Context, p Plan) error {
	return errors.Join(c.stop("install"), c.world.Install(ctx, p))
}

func (c *cancelAt) Snapshot(ctx context.Context, dst string) error {
	if err := c.stop("snapshot"); err != nil {
		return err
	}
	return c.world.Snapshot(ctx, dst)
}

func (c *cancelAt) Preflight(ctx context.Context, rt Runtime, a string) error {
	return errors.Join(c.stop("preflight"), c.world.Preflight(ctx, rt, a))
}

func (c *cancelAt) Gate(ctx context.Context, since time.Time, w time.Duration) error {
	return errors.Join(c.stop("gate"), c.world.Gate(ctx, since, w))
}
