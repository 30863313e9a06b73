package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The tree walks below work on directory descriptors opened with
// O_NOFOLLOW, never on path names: the trees they walk (runtime/, the state
// dir) can be written by the service user, who may swap any entry for a
// symlink between a check and a use. Only the components above path's last
// one are resolved by name; they are the caller's to trust.

// maxRetries bounds how often one entry is looked at again after it changed
// type under us, or how often a directory is re-read after entries appeared
// in it: a tree being rewritten forever fails instead of spinning.
const maxRetries = 100

var errSwapped = errors.New("entry replaced while in use")

// RemoveAll is os.RemoveAll for trees openclawd made read-only (installed
// runtimes): the owner gets write permission on a directory before its
// entries are removed, so an unprivileged openclawd can remove what it
// installed. The permission is changed on the opened directory, never by
// name, and only when needed (root needs none); symlinks are unlinked,
// never followed. A missing path is not an error.
func RemoveAll(path string) error { return RemoveAllFirst(path) }

// RemoveAllFirst is RemoveAll removing the named entries of the directory
// path (a completion marker) before anything else, so a removal cut short
// leaves a tree that is no longer trusted, never a trusted half.
func RemoveAllFirst(path string, first ...string) error {
	path = filepath.Clean(path)
	if base := filepath.Base(path); base == "." || base == ".." || base == string(filepath.Separator) {
		return &os.PathError{Op: "RemoveAll", Path: path, Err: unix.EINVAL}
	}
	parent, err := os.Open(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer parent.Close()
	return removeAt(int(parent.Fd()), filepath.Base(path), path, first)
}

// removeAt removes name in the directory parent and, if it is a directory,
// everything below it. shown is its path, for errors.
func removeAt(parent int, name, shown string, first []string) error {
	for try := 0; ; try++ {
		var st unix.Stat_t
		err := fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			return nil
		} else if err != nil {
			return &os.PathError{Op: "lstat", Path: shown, Err: err}
		}
		if uint32(st.Mode)&unix.S_IFMT != unix.S_IFDIR {
			err = unlinkat(parent, name, 0)
			// EISDIR (EPERM on macOS): it became a directory since the
			// lstat; anything else is the answer.
			if (errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM)) && isDirAt(parent, name) {
				err = errSwapped
			}
		} else {
			err = removeDirAt(parent, name, shown, &st, first)
		}
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, errSwapped) && try < maxRetries:
			continue // look again
		case errors.Is(err, errSwapped):
			return fmt.Errorf("removing %s: %w %d times; is something rewriting the tree?", shown, err, try)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return err
		}
		return &os.PathError{Op: "unlinkat", Path: shown, Err: err}
	}
}

// removeDirAt empties and removes the directory name in parent.
func removeDirAt(parent int, name, shown string, st *unix.Stat_t, first []string) error {
	d, err := openDirAt(parent, name, st)
	if err != nil {
		return err
	}
	fd := int(d.Fd())
	euid := os.Geteuid()
	if err := unix.Fstat(fd, st); err != nil {
		d.Close()
		return &os.PathError{Op: "fstat", Path: shown, Err: err}
	}
	// Write and search permission to unlink the entries; root needs none,
	// and only the owner may change it.
	if perm := uint32(st.Mode) & 0o7777; euid != 0 && int(st.Uid) == euid && perm&0o700 != 0o700 {
		if err := unix.Fchmod(fd, perm|0o700); err != nil {
			d.Close()
			return &os.PathError{Op: "fchmod", Path: shown, Err: err}
		}
	}
	for _, f := range first {
		if err := removeAt(fd, f, filepath.Join(shown, f), nil); err != nil {
			d.Close()
			return err
		}
	}
	err = emptyDir(d, shown)
	d.Close()
	if err != nil {
		return err
	}
	err = unlinkat(parent, name, unix.AT_REMOVEDIR)
	switch {
	case errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.EEXIST), errors.Is(err, unix.ENOTDIR):
		// Refilled after our last read, or swapped for something else.
		return errSwapped
	case err != nil:
		return &os.PathError{Op: "rmdir", Path: shown, Err: err}
	}
	return nil
}

// emptyDir removes every entry of d, re-reading it from the start after
// each batch: removals may reshuffle a directory's order (Go issue 20841).
func emptyDir(d *os.File, shown string) error {
	fd := int(d.Fd())
	for round := 0; ; round++ {
		names, err := d.Readdirnames(1024)
		if len(names) == 0 {
			if err == nil || err == io.EOF {
				return nil
			}
			return &os.PathError{Op: "readdir", Path: shown, Err: err}
		}
		if round > maxRetries*1000 {
			return fmt.Errorf("removing %s: entries keep appearing", shown)
		}
		var firstErr error
		removed := 0
		for _, n := range names {
			if err := removeAt(fd, n, filepath.Join(shown, n), nil); err != nil {
				firstErr = cmpOr(firstErr, err)
			} else {
				removed++
			}
		}
		if removed == 0 {
			return firstErr
		}
		if _, err := d.Seek(0, io.SeekStart); err != nil {
			return &os.PathError{Op: "seek", Path: shown, Err: err}
		}
	}
}

// openDirAt opens the directory name in parent without following a
// symlink. Without read permission (an unprivileged owner), it adds the
// owner's read and search bits, again without following, and retries.
// errSwapped means it is no longer a directory.
func openDirAt(parent int, name string, st *unix.Stat_t) (*os.File, error) {
	for try := 0; ; try++ {
		fd, err := openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), name), nil
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.EMLINK):
			return nil, errSwapped
		case errors.Is(err, unix.EACCES) && try == 0 && os.Geteuid() != 0 && int(st.Uid) == os.Geteuid():
			if err := chmodNoFollow(parent, name, uint32(st.Mode)&0o7777|0o700); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
}

// ChmodTree sets the permission bits of path and of every directory and
// regular file below it to mode(old), through descriptors opened without
// following symlinks: symlinks, and entries swapped for one mid-walk, are
// skipped, never followed, and so are other file types. setuid, setgid and
// sticky bits are cleared. A directory changes after its entries, so
// taking away write or search permission does not stop the walk.
func ChmodTree(path string, mode func(old fs.FileMode) fs.FileMode) error {
	path = filepath.Clean(path)
	parent, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer parent.Close()
	return chmodAt(int(parent.Fd()), filepath.Base(path), path, mode)
}

func chmodAt(parent int, name, shown string, mode func(fs.FileMode) fs.FileMode) error {
	var st unix.Stat_t
	if err := fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: shown, Err: err}
	}
	typ := uint32(st.Mode) & unix.S_IFMT
	if typ != unix.S_IFDIR && typ != unix.S_IFREG {
		return nil
	}
	// O_NONBLOCK: an entry swapped for a FIFO must not hang the open.
	fd, err := openat(parent, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EMLINK):
		return nil // swapped for a symlink since the lstat
	case errors.Is(err, unix.EACCES) && typ == unix.S_IFREG:
		// An unreadable file of our own: change it without opening it.
		return wrap("chmod", shown, chmodNoFollow(parent, name, perm(mode, st.Mode)))
	case err != nil:
		return &os.PathError{Op: "open", Path: shown, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: shown, Err: err}
	}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFDIR:
		names, err := f.Readdirnames(-1)
		if err != nil {
			return &os.PathError{Op: "readdir", Path: shown, Err: err}
		}
		for _, n := range names {
			if err := chmodAt(fd, n, filepath.Join(shown, n), mode); err != nil {
				return err
			}
		}
	case unix.S_IFREG:
	default:
		return nil
	}
	if p := perm(mode, st.Mode); p != uint32(st.Mode)&0o7777 {
		return wrap("fchmod", shown, unix.Fchmod(fd, p))
	}
	return nil
}

func perm[M uint16 | uint32](mode func(fs.FileMode) fs.FileMode, m M) uint32 {
	return uint32(mode(fs.FileMode(m) & 0o777).Perm())
}

func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func isDirAt(dir int, name string) bool {
	var st unix.Stat_t
	return fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && uint32(st.Mode)&unix.S_IFMT == unix.S_IFDIR
}

// The *at calls retry on EINTR, as package os does.

func openat(dir int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstatat(dir int, name string, st *unix.Stat_t, flags int) error {
	for {
		if err := unix.Fstatat(dir, name, st, flags); err != unix.EINTR {
			return err
		}
	}
}

func unlinkat(dir int, name string, flags int) error {
	for {
		if err := unix.Unlinkat(dir, name, flags); err != unix.EINTR {
			return err
		}
	}
}
