package sockets

// Untested here: this file is compiled and vetted for darwin but openclawd's
// tests run on Linux only. lsof is the least fragile public interface to
// the socket table on macOS (the proc_pidfdinfo structs are private API).

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lsofPath is absolute so a root daemon never runs an lsof found on PATH.
const lsofPath = "/usr/sbin/lsof"

// TCPListeners returns every listening TCP socket (v4 and v6) on port
// (0 = all ports), with owners resolved, using lsof. Inode is always 0.
func TCPListeners(port int) ([]Listener, error) {
	sel := "-iTCP"
	if port != 0 {
		sel += ":" + strconv.Itoa(port)
	}
	cmd := exec.Command(lsofPath, "-nP", sel, "-sTCP:LISTEN", "-F", "ptn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// lsof exits 1 with no output when nothing matches.
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 && len(out) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("sockets: lsof: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	ls, err := parseLsof(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("sockets: parse lsof output: %w", err)
	}
	sortListeners(ls)
	return ls, nil
}

// ListenersOf returns the listening TCP sockets held by any of pids. Each
// Listener's PIDs lists only the holders among pids.
func ListenersOf(pids []int) ([]Listener, error) {
	if len(pids) == 0 {
		return nil, nil
	}
	ls, err := TCPListeners(0)
	if err != nil {
		return nil, err
	}
	out := ls[:0]
	for _, l := range ls {
		l.PIDs = slices.DeleteFunc(l.PIDs, func(p int) bool { return !slices.Contains(pids, p) })
		if len(l.PIDs) > 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// kinfo fetches one process's kernel info; a missing pid wraps
// fs.ErrNotExist to match the Linux behaviour.
func kinfo(pid int) (*unix.KinfoProc, error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	// A missing pid yields an empty reply, which x/sys reports as EIO.
	if errors.Is(err, unix.EIO) || errors.Is(err, unix.ESRCH) || (err == nil && int(k.Proc.P_pid) != pid) {
		return nil, fmt.Errorf("sockets: process %d: %w", pid, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("sockets: sysctl kern.proc.pid.%d: %w", pid, err)
	}
	return k, nil
}

// ProcessName returns the kernel's short name for pid (p_comm, at most 16
// bytes, like `ps -o comm=` without the path), or "" if it is gone.
func ProcessName(pid int) string {
	k, err := kinfo(pid)
	if err != nil {
		return ""
	}
	return unix.ByteSliceToString(k.Proc.P_comm[:])
}

// StartTime returns an opaque, stable start marker for pid: its p_starttime
// as "sec.usec" (finer than `ps -o lstart=`, and no fork). When pid does
// not exist the error satisfies errors.Is(err, fs.ErrNotExist).
func StartTime(pid int) (string, error) {
	k, err := kinfo(pid)
	if err != nil {
		return "", err
	}
	t := k.Proc.P_starttime
	return fmt.Sprintf("%d.%06d", t.Sec, t.Usec), nil
}

// listProcs snapshots pid, ppid and pgid of every process.
func listProcs() ([]proc, error) {
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil, fmt.Errorf("sockets: sysctl kern.proc.all: %w", err)
	}
	procs := make([]proc, 0, len(ks))
	for _, k := range ks {
		procs = append(procs, proc{pid: int(k.Proc.P_pid), ppid: int(k.Eproc.Ppid), pgid: int(k.Eproc.Pgid)})
	}
	return procs, nil
}

// listenersOn returns the listeners on port with PIDs set to their holders
// among pids only. lsof sees every process's sockets only as root, so a
// listener may come back with no holder at all.
func listenersOn(port int, pids []int) ([]Listener, error) {
	ls, err := TCPListeners(port)
	if err != nil {
		return nil, err
	}
	for i := range ls {
		ls[i].PIDs = slices.DeleteFunc(ls[i].PIDs, func(p int) bool { return !slices.Contains(pids, p) })
	}
	return ls, nil
}

// identify sets PIDs to every holder lsof reports, matched by address.
func identify(ls []Listener) {
	all, err := TCPListeners(0)
	if err != nil {
		return
	}
	for i := range ls {
		ls[i].PIDs = nil
		for _, a := range all {
			if a.Addr == ls[i].Addr {
				ls[i].PIDs = append(ls[i].PIDs, a.PIDs...)
			}
		}
	}
}
