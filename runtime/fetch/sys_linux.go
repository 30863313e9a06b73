package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames old to new, failing if new appeared since Install
// checked: a plain rename would silently replace an empty directory.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		// Old kernel, seccomp, or a filesystem without the flag.
		if _, err := os.Lstat(new); err == nil {
			return fmt.Errorf("renaming to %s: %w", new, fs.ErrExist)
		}
		return os.Rename(old, new)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	return nil
}

// syncTree flushes dir's filesystem with one syncfs(2): far cheaper than an
// fsync for each of Node's thousands of files, each forcing a journal commit
// on ext4.
func syncTree(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); errors.Is(err, unix.ENOSYS) {
		return syncWalk(dir)
	} else if err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
