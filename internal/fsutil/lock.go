package fsutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is an exclusive advisory lock on a file (flock), held by this
// process until Unlock. The kernel drops it if the process dies, so a
// kill -9 never leaves it stuck.
type Lock struct{ f *os.File }

// Acquire takes the lock at path, calling waiting once, with the pid that
// holds it, if another process has it; it then blocks until the lock is
// free or ctx ends.
//
// The lock file usually sits in a directory another user can write, so it
// is opened without following a symlink and written only once it is known
// to be a regular file of this process's own, with no other hard link: a
// planted link must never make openclawd truncate its target.
func Acquire(ctx context.Context, path string, waiting func(holder int)) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	told := false
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			// Through the checked descriptor, never the path again.
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !told && waiting != nil {
			b := make([]byte, 16)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			waiting(pid)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// openLockFile opens (creating 0600) path without following a symlink and
// refuses anything but a regular file owned by the effective uid with a
// single link. O_NONBLOCK keeps a planted FIFO from hanging the open.
func openLockFile(path string) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0o600)
		if err != unix.EINTR {
			break
		}
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) {
		return nil, fmt.Errorf("lock file %s is a symlink: refusing to follow it (it could make openclawd truncate the link's target); remove it (`rm %s`) and retry", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("checking lock file %s: %w", path, err)
	}
	euid := os.Geteuid()
	var why string
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		why = "is not a regular file"
	case int(st.Uid) != euid:
		why = fmt.Sprintf("is owned by uid %d, not by this process's uid %d", st.Uid, euid)
	case st.Nlink != 1:
		why = fmt.Sprintf("has %d hard links", st.Nlink)
	}
	if why != "" {
		unix.Close(fd)
		return nil, fmt.Errorf("lock file %s %s: refusing to write it; remove it (`rm %s`) and retry as the user that owns its directory", path, why, path)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("opening lock file %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
	}
}
