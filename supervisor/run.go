package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/sockets"
)

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
	spec, err := s.prepare(ctx)
	if ctx.Err() != nil {
		return Decision{}, "", false
	}
	if err != nil {
		var pe *prepareError
		if errors.As(err, &pe) {
			return fail(pe.code, pe.Error(), pe.fatal)
		}
		return fail(CodeSpec, err.Error(), true)
	}
	if s.isPaused() { // asked while preparing: start nothing
		return Decision{Restart: true, Reason: "paused"}, "", true
	}
	// A new process satisfies every restart asked for until now.
	s.drainRestart()
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

	e, code, ok := s.supervise(ctx, c)
	s.update(func(st *Status) { st.PID = 0 }) // reaped: never report its pid as running
	// The whole tree dies with the gateway, whatever ended it.
	c.reapGroup()
	s.killAdopted()
	if !ok {
		return Decision{}, "", false
	}
	c.drained(time.Second)
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

// supervise runs until the child has exited (it returns after the reap).
// ok is false when the Supervisor is stopping.
func (s *Supervisor) supervise(ctx context.Context, c *child) (e Exit, code string, ok bool) {
	gen, cancel := context.WithCancel(ctx)
	defer cancel()
	startedCh := make(chan error, 1)
	go func() { startedCh <- s.o.Prober.Started(gen) }()
	hungCh := make(chan string, 1)
	var listenTick <-chan time.Time
	var healthyAt time.Time
	// Adopted orphans that exit on their own are reaped as they go.
	var sigchld chan os.Signal
	if s.subreaper {
		sigchld = make(chan os.Signal, 1)
		signal.Notify(sigchld, syscall.SIGCHLD)
		defer signal.Stop(sigchld)
	}
	stopWith := func(grace time.Duration) {
		if c.stop(grace, s.hurry, func() []int { return s.outsideGroup(c.pid) }) {
			s.log.Warn("gateway did not stop after SIGTERM; sent SIGKILL", "pid", c.pid, "grace", grace)
		}
		e = c.exit()
	}
	defer func() {
		if !healthyAt.IsZero() {
			e.Started, e.Uptime = true, time.Since(healthyAt)
		}
	}()
	for {
		select {
		case <-c.done:
			return c.exit(), code, true
		case <-sigchld:
			s.reapAdopted(c.pid)
		case err := <-startedCh:
			if ctx.Err() != nil { // Started gave up because we are stopping
				stopWith(s.o.StopTimeout)
				return e, "", false
			}
			if err != nil {
				stopWith(s.o.KillTimeout)
				if errors.Is(err, sockets.ErrForeignListener) {
					e.Cause, code = "another process answered on the gateway's port; it was sent nothing and the gateway was stopped: "+err.Error(), CodePortSquatted
				} else {
					e.Cause, code = "the gateway did not finish starting: "+err.Error(), CodeStartupTimeout
				}
				return e, code, true
			}
			if err := checkLoopback(s.tree(c.pid)); err != nil {
				stopWith(0)
				e.Cause, e.Fatal, code = "security: "+err.Error(), errors.Is(err, ErrNotLoopback), CodeNotLoopback
				return e, code, true
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
			// A squatter on a loopback address beside the gateway fails the
			// checks too: name it rather than call the gateway hung.
			if err := s.VerifyListener(); errors.Is(err, sockets.ErrForeignListener) {
				s.log.Error("another process listens on the gateway's port; stopping the gateway", "pid", c.pid, "err", err)
				stopWith(s.o.KillTimeout)
				e.Cause, code = "another process listens on the gateway's port: "+err.Error(), CodePortSquatted
				return e, code, true
			}
			s.log.Error("gateway is hung; killing it", "pid", c.pid, "reason", r)
			stopWith(s.o.KillTimeout)
			e.Cause, code = "the gateway hung: "+r, CodeHung
			s.update(func(st *Status) { st.HungAt, st.HungReason = time.Now(), e.Cause })
			return e, code, true
		case <-listenTick:
			if err := checkLoopback(s.tree(c.pid)); errors.Is(err, ErrNotLoopback) {
				stopWith(0)
				e.Cause, e.Fatal, code = "security: "+err.Error(), true, CodeNotLoopback
				return e, code, true
			}
		case r := <-s.restart:
			s.log.Info("restarting gateway on request", "reason", r)
			stopWith(s.o.StopTimeout)
			e.Requested = true
			s.tracker.Reset()
			return e, "", true
		case <-ctx.Done():
			s.log.Info("stopping gateway", "pid", c.pid)
			stopWith(s.o.StopTimeout)
			s.log.Info("gateway stopped", "pid", c.pid, "exit", e.Describe())
			return e, "", false
		}
	}
}

func (s *Supervisor) recordExit(e Exit, reason string) {
	s.update(func(st *Status) {
		st.LastExit = &LastExit{Code: e.Code, Signal: e.Signal, At: time.Now(), Reason: reason}
		st.Crashes = s.tracker.Crashes()
	})
}
