package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/openclawd/openclawd/internal/sockets"
)

// prepareError is a start that failed before exec, with its status code
// and whether a retry can help.
type prepareError struct {
	code  string
	fatal bool
	err   error
}

func (e *prepareError) Error() string { return e.err.Error() }
func (e *prepareError) Unwrap() error { return e.err }

// prepare does everything a start needs before exec: the Spec, a clear
// port, an empty TMPDIR and the pid file's directory. Transient causes
// (a full disk, an I/O error, too many open files) back off and retry;
// anything else is the configuration's fault and fatal.
func (s *Supervisor) prepare(ctx context.Context) (Spec, error) {
	fail := func(code, what string, err error, fatalUnlessTransient bool) (Spec, error) {
		fatal := fatalUnlessTransient && !transient(err)
		if what == "" {
			return Spec{}, &prepareError{code: code, fatal: fatal, err: err}
		}
		if !fatal {
			what += " (will retry)"
		}
		return Spec{}, &prepareError{code: code, fatal: fatal, err: fmt.Errorf("%s: %w", what, err)}
	}
	spec, err := s.o.Spec(ctx)
	if err != nil {
		return fail(CodeSpec, "cannot prepare the gateway", err, true)
	}
	// Spec's helpers (npm) have been waited for: whatever of ours still
	// runs is an orphan they or an earlier gateway left.
	s.killAdopted()
	if err := s.clearPort(ctx); err != nil {
		return fail(CodePortInUse, "", err, false)
	}
	if spec.TmpDir != "" {
		if err := resetDir(spec.TmpDir, spec.KeepInTmp); err != nil {
			return fail(CodeSpec, "preparing the gateway's TMPDIR", err, true)
		}
	}
	if err := s.pid.prepare(); err != nil {
		if transient(err) {
			return fail(CodeSpec, "preparing the gateway's pid file", err, false)
		}
		// The pid file only helps a later openclawd find a stale gateway.
		s.log.Warn("preparing the gateway pid file", "err", err)
	}
	return spec, nil
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

// transientErrnos are causes a retry may fix: space, quota, I/O, memory
// and descriptor exhaustion, contention, interruption.
var transientErrnos = []syscall.Errno{
	syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.ENOMEM, syscall.EMFILE,
	syscall.ENFILE, syscall.EAGAIN, syscall.EBUSY, syscall.EINTR,
}

// transient reports whether err, through any wrapping, is marked Transient
// or caused by one of transientErrnos. What is not transient (a bad
// command, a missing file, a permission) is a validation error.
func transient(err error) bool {
	var tr transientError
	if errors.As(err, &tr) {
		return true
	}
	return slices.ContainsFunc(transientErrnos, func(e syscall.Errno) bool { return errors.Is(err, e) })
}

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
