package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/caps"
	"github.com/openclawd/openclawd/internal/logpipe"
	"github.com/openclawd/openclawd/internal/sockets"
)

// Spec is how to start one gateway process.
type Spec struct {
	Argv   []string
	Env    []string // the complete environment; nothing is inherited
	Dir    string   // working directory (a .env there is loaded by the gateway)
	TmpDir string   // the private TMPDIR, emptied before each start…
	// KeepInTmp names TmpDir entries that survive (Node's compile cache:
	// without it every start recompiles the gateway, seconds of CPU).
	KeepInTmp []string
}

var errNoCommand = errors.New("no command to run")

// child is one gateway process. One goroutine calls Wait and closes done;
// nothing else waits on the pid.
type child struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	done    chan struct{}
	state   *os.ProcessState
	waitErr error
	tail    *tailBuffer
	copies  sync.WaitGroup
}

// startChild starts spec in a new process group. Output is copied to stdout
// and stderr by goroutines that own the pipes, so a grandchild holding them
// open can't delay the reaping of the gateway.
func startChild(spec Spec, stdout, stderr io.Writer) (*child, error) {
	if len(spec.Argv) == 0 {
		return nil, errNoCommand
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = spec.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never inherit openclawd's environment
	}
	cmd.Dir = spec.Dir
	cmd.SysProcAttr = sysProcAttr()
	c := &child{cmd: cmd, done: make(chan struct{}), tail: &tailBuffer{max: 4096}}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("creating stderr pipe: %w", err)
	}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = outW, errW
	err = caps.Start(cmd) // the gateway never binds privileged ports
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	raiseOOMScore(cmd.Process.Pid)
	c.pid, c.started = cmd.Process.Pid, time.Now()
	c.copies.Add(2)
	// Both streams feed the tail: which one carries the gateway's last
	// words before an exit is not specified.
	go c.copy(io.MultiWriter(stdout, c.tail), outR)
	go c.copy(io.MultiWriter(stderr, c.tail), errR)
	go func() {
		c.waitErr = cmd.Wait()
		c.state = cmd.ProcessState
		close(c.done)
	}()
	return c, nil
}

func (c *child) copy(w io.Writer, r *os.File) {
	defer c.copies.Done()
	defer r.Close()
	_, _ = io.Copy(w, r)
}

// drained waits, at most d, for the output of an exited child to be copied,
// so the last stderr lines are in the tail before the exit is reported.
func (c *child) drained(d time.Duration) {
	ch := make(chan struct{})
	go func() { c.copies.Wait(); close(ch) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// exit describes how the child ended; call it after done is closed.
func (c *child) exit() Exit {
	e := Exit{Code: -1}
	if c.state == nil {
		return e
	}
	if ws, ok := c.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = signalName(ws.Signal())
		return e
	}
	e.Code = c.state.ExitCode()
	return e
}

// signal sends sig to the child's process group and to descendants that
// left it (the gateway's spawn broker calls setsid, openclaw-gateway.md §9).
func (c *child) signal(sig syscall.Signal, extra []int) {
	select {
	case <-c.done: // reaped: the pgid may be reused, signal nothing
		return
	default:
	}
	_ = syscall.Kill(-c.pid, sig)
	for _, p := range extra {
		_ = syscall.Kill(p, sig)
	}
}

// stop sends SIGCONT (a stopped process can't act on anything else) and
// SIGTERM, waits up to grace or until hurry is closed, then SIGKILLs the
// group and the processes outside it that extra lists at that moment. It
// reports whether SIGKILL was needed.
func (c *child) stop(grace time.Duration, hurry <-chan struct{}, extra func() []int) (killed bool) {
	c.signal(syscall.SIGCONT, nil)
	c.signal(syscall.SIGTERM, nil)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return false
	case <-t.C:
	case <-hurry:
	}
	c.signal(syscall.SIGKILL, extra())
	<-c.done
	return true
}

// reapGroup kills what is left of the child's process group after the
// leader exited. The group id cannot be reused while members remain, so
// signalling it is safe.
func (c *child) reapGroup() {
	if members, err := sockets.ProcessGroup(c.pid); err == nil && len(members) > 0 {
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	}
}

// tailBuffer keeps the last max bytes written, for exit reasons.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// Lines returns the last n non-empty lines, cleaned as the log pipe cleans
// them (no colour or control codes) and passed through redact, which masks
// secrets as the log pipe does: these lines end up in status and the log.
func (t *tailBuffer) Lines(n int, redact func(string) string) []string {
	t.mu.Lock()
	b := bytes.Clone(t.b)
	t.mu.Unlock()
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(logpipe.Clean(l)); l != "" {
			out = append(out, redact(l))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGBUS:
		return "SIGBUS"
	}
	return fmt.Sprintf("signal %d (%s)", int(s), s)
}
