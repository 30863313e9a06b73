package fsutil

import "golang.org/x/sys/unix"

// chmodNoFollow changes the mode of name in dir without opening it (it may
// not be readable yet); macOS's fchmodat never follows a symlink with
// AT_SYMLINK_NOFOLLOW.
func chmodNoFollow(dir int, name string, mode uint32) error {
	var st unix.Stat_t
	if err := fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	return unix.Fchmodat(dir, name, uint32(mode), unix.AT_SYMLINK_NOFOLLOW)
}
