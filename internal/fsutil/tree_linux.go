package fsutil

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// chmodNoFollow changes the mode of name in dir without opening it for
// reading (it may not be readable yet) and without following a symlink: an
// O_PATH descriptor pins the inode, which fchmodat2 (Linux 6.6) or its
// /proc/self/fd link then changes. A symlink is left alone.
func chmodNoFollow(dir int, name string, mode uint32) error {
	fd, err := openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	err = unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		// The magic link resolves to the pinned inode, not by name.
		err = unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
	}
	return err
}
