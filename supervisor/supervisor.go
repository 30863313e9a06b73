package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Prober checks the gateway's health; package health implements it.
type Prober interface {
	// Started polls until the gateway reports started; error at the deadline or when ctx ends.
	Started(ctx context.Context) error
	// Watch probes until ctx ends. When the gateway has failed enough
	// consecutive checks it calls hung(reason) once and returns.
	Watch(ctx context.Context, hung func(reason string))
}

// Options configure a Supervisor.
type Options struct {
	Port   int
	Spec   func(context.Context) (Spec, error) // called before every start; may provision the runtime
	Prober Prober
	Policy Policy
	// StopTimeout is the SIGTERM grace of a normal stop or restart.
	StopTimeout time.Duration
	// KillTimeout is the SIGTERM grace of a hung gateway.
	KillTimeout time.Duration
	// PIDFile records the running gateway, to find a stale one after a crash.
	PIDFile string
	// Stdout and Stderr receive the gateway's output.
	Stdout, Stderr io.Writer
	// Redact masks secrets in the gateway's last lines, which become exit
	// reasons (default: none).
	Redact func(string) string
	Logger *slog.Logger
	// OnHealthy is called each time a gateway process reports started.
	OnHealthy func()
	// ListenCheckEvery repeats the loopback check while running (default 1m).
	ListenCheckEvery time.Duration
	// Subreaper makes this process a child subreaper (Linux), so that
	// descendants of the gateway that escape with setsid and a double fork
	// are re-parented here instead of to init: they count as the gateway's
	// tree for the loopback and listener checks and are killed and reaped
	// after every gateway exit. The attribute is process-wide, and every
	// descendant of this process is then taken for the gateway's tree: set
	// it only where the supervisor's own loop starts every child (the
	// daemon: Spec's helpers run and are waited for before a gateway
	// starts), never in a test binary that runs other children alongside.
	// Ignored, with a warning, where unsupported (macOS).
	Subreaper bool
}

// Problem codes: stable, machine-readable causes shown by status.
const (
	CodeConfigInvalid  = "config_invalid"
	CodeNotLoopback    = "not_loopback"
	CodePortInUse      = "port_in_use"
	CodePortSquatted   = "port_squatted" // another process answered on the port during a start
	CodeHung           = "hung"
	CodeStartupTimeout = "startup_timeout"
	CodeCrashLoop      = "crash_loop"
	CodeSpec           = "cannot_start"
)

// LastExit is how the previous gateway process ended.
type LastExit struct {
	Code   int
	Signal string
	At     time.Time
	Reason string
}

// Status is a snapshot of the supervisor.
type Status struct {
	State     State
	Reason    string // why it is in State, when that needs saying
	Code      string // a Code* constant for the current problem, or ""
	PID       int
	Restarts  int // gateway starts after the first
	Crashes   int // consecutive crashes
	SpawnedAt time.Time
	HealthyAt time.Time // when the current process reported started
	NextStart time.Time // in Backoff
	LastExit  *LastExit
	// HungAt is when openclawd last killed a running gateway that stopped
	// answering, and HungReason why: an event the state alone can't show,
	// since the restart follows at once.
	HungAt     time.Time
	HungReason string
}

// Supervisor runs the gateway. Start launches its loop; Stop ends it.
type Supervisor struct {
	o       Options
	log     *slog.Logger
	tracker *Tracker
	pid     pidFile

	restart   chan string
	stopOnce  sync.Once
	hurryOnce sync.Once

	// say's memory; only the loop goroutine touches these.
	lastSaid string
	saidAt   time.Time
	unsaid   int

	cancel context.CancelFunc
	hurry  chan struct{} // closed when Stop's ctx ends: SIGKILL now
	done   chan struct{}

	subreaper bool // set by Start when the kernel accepted it

	mu       sync.Mutex // guards st, starts and resume
	st       Status
	starts   int
	exemptMu sync.Mutex // held while an exempt process starts, and while exempt is read
	exempt   map[int]bool

	// resume is non-nil while paused; Resume closes it.
	resume   chan struct{}
	pauseWhy string
}

// New returns a Supervisor; it starts nothing.
func New(o Options) (*Supervisor, error) {
	if o.Spec == nil || o.Prober == nil {
		return nil, errors.New("supervisor: Spec and Prober are required")
	}
	if o.Port < 1 || o.Port > 65535 {
		return nil, fmt.Errorf("supervisor: bad port %d", o.Port)
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 330 * time.Second
	}
	if o.KillTimeout <= 0 {
		o.KillTimeout = time.Second
	}
	if o.ListenCheckEvery <= 0 {
		o.ListenCheckEvery = time.Minute
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.OnHealthy == nil {
		o.OnHealthy = func() {}
	}
	return &Supervisor{
		o: o, log: o.Logger, tracker: NewTracker(o.Policy), pid: pidFile(o.PIDFile),
		restart: make(chan string, 1), hurry: make(chan struct{}), done: make(chan struct{}),
		st: Status{State: Stopped},
	}, nil
}

// Start launches the supervision loop and returns at once.
func (s *Supervisor) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if s.o.Subreaper {
		if err := setSubreaper(); err != nil {
			s.log.Warn("cannot adopt the gateway's escaped processes; they may outlive it", "err", err)
		} else {
			s.subreaper = true
		}
	}
	go s.loop(ctx)
	return nil
}

// Stop stops the gateway (SIGTERM, StopTimeout, SIGKILL) and the loop. If
// ctx ends first, the gateway is killed at once. Safe to call twice.
func (s *Supervisor) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.stopOnce.Do(s.cancel)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.hurryOnce.Do(func() { close(s.hurry) })
	<-s.done
	return ctx.Err()
}

// Restart asks for a fresh gateway process: now if one runs, or at once
// out of Backoff or Failed, with the crash count reset.
func (s *Supervisor) Restart(reason string) {
	select {
	case s.restart <- reason:
	default: // one is pending already
	}
}

// Status returns a snapshot.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	if st.LastExit != nil {
		le := *st.LastExit
		st.LastExit = &le
	}
	return st
}

func (s *Supervisor) update(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

// Pause stops the gateway (as a restart does: SIGTERM, StopTimeout,
// SIGKILL) and starts none until Resume. The daemon, its control API and
// the front end stay up: a restore swaps the gateway's state underneath.
// It returns once no gateway process runs, or with ctx's error.
func (s *Supervisor) Pause(ctx context.Context, reason string) error {
	s.Hold(reason)
	s.Restart(reason)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if st := s.Status(); st.State == Paused && st.PID == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pausing the gateway: %w", ctx.Err())
		case <-s.done:
			return errors.New("pausing the gateway: openclawd is stopping")
		case <-t.C:
		}
	}
}

// Hold is Pause without the wait, and without stopping a running gateway:
// called before Start, no gateway starts until Resume (a state that must
// not be run).
func (s *Supervisor) Hold(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume == nil {
		s.resume, s.pauseWhy = make(chan struct{}), reason
	}
}

// Resume ends a Pause: the gateway starts at once, with a fresh crash count.
func (s *Supervisor) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume != nil {
		close(s.resume)
		s.resume = nil
	}
}

// paused blocks while the supervisor is paused; false when ctx ended.
func (s *Supervisor) paused(ctx context.Context) bool {
	s.mu.Lock()
	ch, why := s.resume, s.pauseWhy
	if ch != nil {
		s.st.State, s.st.PID, s.st.Reason, s.st.Code = Paused, 0, why, ""
	}
	s.mu.Unlock()
	if ch == nil {
		return true
	}
	s.log.Info("gateway paused", "reason", why)
	select {
	case <-ctx.Done():
		return false
	case <-ch:
	}
	s.tracker.Reset()
	s.drainRestart()
	s.update(func(st *Status) { st.State, st.Reason = Starting, "resumed after: "+why })
	s.log.Info("gateway resumed", "after", why)
	return true
}

func (s *Supervisor) isPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resume != nil
}

func (s *Supervisor) drainRestart() {
	select {
	case <-s.restart:
	default:
	}
}

func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.done)
	defer s.update(func(st *Status) { st.State, st.PID, st.Reason, st.Code = Stopped, 0, "", "" })
	for {
		if !s.paused(ctx) {
			return
		}
		d, code, ok := s.runOnce(ctx)
		if !ok || ctx.Err() != nil { // never respawn during shutdown
			return
		}
		if code == "" && d.Crash && s.tracker.CrashLoop(time.Now()) {
			code = CodeCrashLoop
		}
		switch {
		case !d.Restart:
			s.log.Error("gateway failed; waiting for `openclawd restart` or a config change", "reason", d.Reason)
			s.update(func(st *Status) { st.State, st.PID, st.Reason, st.Code = Failed, 0, d.Reason, code })
			if !s.wait(ctx, nil) {
				return
			}
		case d.Delay > 0:
			next := time.Now().Add(d.Delay)
			s.say(code, "gateway restart backing off", "reason", d.Reason, "delay", d.Delay.Round(time.Millisecond))
			s.update(func(st *Status) {
				st.State, st.PID, st.Reason, st.Code, st.NextStart = Backoff, 0, d.Reason, code, next
			})
			t := time.NewTimer(d.Delay)
			ok := s.wait(ctx, t.C)
			t.Stop()
			if !ok {
				return
			}
		default:
			s.update(func(st *Status) { st.State, st.PID, st.Reason = Starting, 0, d.Reason })
			s.log.Info("restarting gateway", "reason", d.Reason)
		}
	}
}

// say logs a backoff once per problem code, then at most every ten
// minutes with a count: a port held for a day must not cost a line a minute.
func (s *Supervisor) say(code, msg string, args ...any) {
	now := time.Now()
	if code == s.lastSaid && now.Sub(s.saidAt) < 10*time.Minute {
		s.unsaid++
		return
	}
	if s.unsaid > 0 {
		args = append(args, "similar_since_last", s.unsaid)
	}
	s.lastSaid, s.saidAt, s.unsaid = code, now, 0
	s.log.Warn(msg, args...)
}

// wait blocks in Failed or Backoff until timer fires (nil: never), a
// restart is asked for (which resets the crash count), or ctx ends.
func (s *Supervisor) wait(ctx context.Context, timer <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-timer:
		return true
	case r := <-s.restart:
		s.log.Info("restart requested", "reason", r)
		s.tracker.Reset()
		return true
	}
}
