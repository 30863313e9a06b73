package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/sockets"
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
}

// Problem codes: stable, machine-readable causes shown by status.
const (
	CodeConfigInvalid  = "config_invalid"
	CodeNotLoopback    = "not_loopback"
	CodePortInUse      = "port_in_use"
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

	mu     sync.Mutex // guards st and starts
	st     Status
	starts int
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
		o.KillTimeout = 10 * time.Second
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

func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.done)
	defer s.update(func(st *Status) { st.State, st.PID, st.Reason, st.Code = Stopped, 0, "", "" })
	for {
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

// runOnce starts one gateway process and supervises it until it exits or
// is stopped. ok is false when the Supervisor is stopping.
func (s *Supervisor) runOnce(ctx context.Context) (d Decision, code string, ok bool) {
	fail := func(code, reason string, fatal bool) (Decision, string, bool) {
		e := Exit{Code: -1, Cause: reason, Fatal: fatal}
		d := s.tracker.Next(e, time.Now())
		s.recordExit(e, d.Reason)
		return d, code, true
	}
	if ctx.Err() != nil {
		return Decision{}, "", false
	}
	s.update(func(st *Status) { st.State, st.PID, st.Code = Starting, 0, "" })
	spec, err := s.o.Spec(ctx)
	if ctx.Err() != nil {
		return Decision{}, "", false
	}
	if err != nil {
		var tr transientError
		if errors.As(err, &tr) {
			return fail(CodeSpec, "cannot prepare the gateway (will retry): "+err.Error(), false)
		}
		return fail(CodeSpec, "cannot prepare the gateway: "+err.Error(), true)
	}
	if err := s.clearPort(ctx); err != nil {
		return fail(CodePortInUse, err.Error(), false)
	}
	if spec.TmpDir != "" {
		if err := resetDir(spec.TmpDir, spec.KeepInTmp); err != nil {
			return fail(CodeSpec, "preparing the gateway's TMPDIR: "+err.Error(), true)
		}
	}
	// A new process satisfies every restart asked for until now.
	select {
	case <-s.restart:
	default:
	}
	c, err := startChild(spec, s.o.Stdout, s.o.Stderr)
	if err != nil {
		if permanentExecError(err) {
			return fail(CodeSpec, fmt.Sprintf("cannot run %s: %v; check gateway.command", spec.Argv[0], err), true)
		}
		return fail("", fmt.Sprintf("starting %s: %v", spec.Argv[0], err), false)
	}
	if err := s.pid.write(c.pid); err != nil {
		s.log.Warn("writing the gateway pid file", "err", err)
	}
	defer s.pid.remove()
	s.mu.Lock()
	s.starts++
	s.st = Status{State: Starting, PID: c.pid, Restarts: s.starts - 1, Crashes: s.tracker.Crashes(),
		SpawnedAt: c.started, LastExit: s.st.LastExit}
	s.mu.Unlock()
	s.log.Info("gateway started", "pid", c.pid, "port", s.o.Port)

	gen, cancel := context.WithCancel(ctx)
	defer cancel()
	startedCh := make(chan error, 1)
	go func() { startedCh <- s.o.Prober.Started(gen) }()
	hungCh := make(chan string, 1)
	var listenTick <-chan time.Time
	var healthyAt time.Time
	var e Exit
	stopWith := func(grace time.Duration) {
		if c.stop(grace, s.hurry) {
			s.log.Warn("gateway did not stop after SIGTERM; sent SIGKILL", "pid", c.pid, "grace", grace)
		}
		e = c.exit()
	}
supervise:
	for {
		select {
		case <-c.done:
			e = c.exit()
			break supervise
		case err := <-startedCh:
			if ctx.Err() != nil { // Started gave up because we are stopping
				stopWith(s.o.StopTimeout)
				return Decision{}, "", false
			}
			if err != nil {
				stopWith(s.o.KillTimeout)
				e.Cause, code = "the gateway did not finish starting: "+err.Error(), CodeStartupTimeout
				break supervise
			}
			if err := checkLoopback(c.pid); err != nil {
				stopWith(0)
				e.Cause, e.Fatal, code = "security: "+err.Error(), errors.Is(err, ErrNotLoopback), CodeNotLoopback
				break supervise
			}
			healthyAt = time.Now()
			s.update(func(st *Status) { st.State, st.HealthyAt = Running, healthyAt })
			s.log.Info("gateway is healthy", "pid", c.pid, "startup", healthyAt.Sub(c.started).Round(time.Millisecond))
			s.o.OnHealthy()
			t := time.NewTicker(s.o.ListenCheckEvery)
			defer t.Stop()
			listenTick = t.C
			go s.o.Prober.Watch(gen, func(r string) {
				select {
				case hungCh <- r:
				default:
				}
			})
		case r := <-hungCh:
			s.log.Error("gateway is hung; killing it", "pid", c.pid, "reason", r)
			stopWith(s.o.KillTimeout)
			e.Cause, code = "the gateway hung: "+r, CodeHung
			break supervise
		case <-listenTick:
			if err := checkLoopback(c.pid); errors.Is(err, ErrNotLoopback) {
				stopWith(0)
				e.Cause, e.Fatal, code = "security: "+err.Error(), true, CodeNotLoopback
				break supervise
			}
		case r := <-s.restart:
			s.log.Info("restarting gateway on request", "reason", r)
			stopWith(s.o.StopTimeout)
			e.Requested = true
			s.tracker.Reset()
			break supervise
		case <-ctx.Done():
			s.log.Info("stopping gateway", "pid", c.pid)
			stopWith(s.o.StopTimeout)
			s.log.Info("gateway stopped", "pid", c.pid, "exit", e.Describe())
			return Decision{}, "", false
		}
	}
	s.update(func(st *Status) { st.PID = 0 }) // reaped: never report its pid as running
	c.reapGroup()
	c.drained(time.Second)
	if !healthyAt.IsZero() {
		e.Started, e.Uptime = true, time.Since(healthyAt)
	}
	if lines := c.tail.Lines(5, s.o.Redact); len(lines) > 0 {
		e.Detail = strings.Join(lines, " | ")
	}
	d = s.tracker.Next(e, time.Now())
	if !d.Restart && !e.Fatal && code == "" {
		code = CodeConfigInvalid
	}
	s.log.Warn("gateway exited", "pid", c.pid, "exit", e.Describe(), "reason", d.Reason)
	s.recordExit(e, d.Reason)
	return d, code, true
}

func (s *Supervisor) recordExit(e Exit, reason string) {
	s.update(func(st *Status) {
		st.LastExit = &LastExit{Code: e.Code, Signal: e.Signal, At: time.Now(), Reason: reason}
		st.Crashes = s.tracker.Crashes()
	})
}

// clearPort stops a stale gateway of ours and refuses to start while
// anyone else holds the port: a foreign process is named, never killed.
func (s *Supervisor) clearPort(ctx context.Context) error {
	if pid := s.pid.stale(); pid > 0 {
		s.log.Warn("stopping a gateway left over from an earlier openclawd", "pid", pid)
		if err := killStale(ctx, pid, s.o.StopTimeout); err != nil {
			return err
		}
		s.pid.remove()
	}
	ls, err := sockets.TCPListeners(s.o.Port)
	if err != nil {
		return fmt.Errorf("reading the socket table: %w", err)
	}
	if len(ls) > 0 {
		return fmt.Errorf("port %d is in use by %s; stop that process or set gateway.port to a free port (`sudo ss -ltnp 'sport = :%d'` shows the holder)",
			s.o.Port, sockets.Describe(ls), s.o.Port)
	}
	return nil
}

// Transient marks a Spec error that a retry may fix (a download that
// failed on the network): the supervisor backs off instead of failing.
func Transient(err error) error { return transientError{err} }

type transientError struct{ error }

func (e transientError) Unwrap() error { return e.error }

// permanentExecError reports whether starting failed for a reason that
// retrying cannot fix (a missing or non-executable program), as opposed to
// a transient one (ENOMEM, EAGAIN, EMFILE) that deserves a backoff.
func permanentExecError(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, errNoCommand)
}

// resetDir empties dir, but for the entries named in keep, and makes sure
// it exists with mode 0700.
func resetDir(dir string, keep []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if slices.Contains(keep, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
