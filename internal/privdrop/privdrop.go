// Package privdrop is how a root openclawd stops being root: it runs the
// same binary again as the service user and waits for it. Root commands
// call it before they touch the state dir, whose every file the service
// user (and so the agent the gateway runs) can change: acting there as
// root would let that account choose what root reads, writes or runs.
//
// The child is a separate process rather than a setuid of this one: Go
// cannot change the credentials of every thread reliably in cgo builds,
// and a fresh exec leaves nothing of root's state (open files, caches)
// behind.
package privdrop

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/internal/account"
)

// executable is this binary; tests run a copy that the service user can reach.
var executable = os.Executable

// Needed reports whether this process must become a before touching the
// state dir: it is root and a is not.
func Needed(a account.Account) bool { return os.Geteuid() == 0 && !a.IsRoot() }

// Options for Run.
type Options struct {
	// Env replaces these variables in the child's environment (which is
	// otherwise this process's, less sudo's SUDO_* markers).
	Env map[string]string
	// BindPrivileged keeps CAP_NET_BIND_SERVICE (Linux) for Caddy's ports
	// 80 and 443, as the packaged unit's AmbientCapabilities does. The
	// child clears it again for everything it starts (internal/caps).
	BindPrivileged bool
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs this binary with args as a and returns its exit code (128+n
// when a signal n ended it). SIGINT, SIGTERM and SIGHUP are passed on, and
// the child gets SIGTERM if this process dies.
func Run(a account.Account, args []string, o Options) (int, error) {
	exe, err := executable()
	if err != nil {
		return 1, fmt.Errorf("finding openclawd's own binary to run it as %s: %w", a.Name, err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = childEnv(a, o.Env)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cmd.SysProcAttr = sysProcAttr(a, o.BindPrivileged)
	rc, err := Supervise(cmd, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	if err != nil && errors.Is(err, os.ErrPermission) {
		return rc, fmt.Errorf("running %s as %s: %w (the service user must be able to run the binary and reach its directory)", exe, a, err)
	} else if err != nil {
		return rc, fmt.Errorf("running %s as %s: %w", exe, a, err)
	}
	return rc, nil
}

// Supervise starts cmd, passes the signals named in forward on to it
// while it runs, and returns its exit code (128+n when signal n ended
// it). An error means it could not be started or waited for.
func Supervise(cmd *exec.Cmd, forward ...os.Signal) (int, error) {
	sigs := make(chan os.Signal, 4)
	if len(forward) > 0 {
		signal.Notify(sigs, forward...)
		defer signal.Stop(sigs)
	}
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	case err != nil:
		return 1, err
	}
	return 0, nil
}

// childEnv is this process's environment for a: its name, and sudo's
// markers removed (they describe the caller, not the service).
func childEnv(a account.Account, set map[string]string) []string {
	env := make([]string, 0, len(os.Environ())+len(set)+2)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok || strings.HasPrefix(k, "SUDO_") || k == "USER" || k == "LOGNAME" || k == "MAIL" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "USER="+a.Name, "LOGNAME="+a.Name)
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}
