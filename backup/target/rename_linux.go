package target

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameExcl renames atomically unless new exists (renameat2
// RENAME_NOREPLACE); errors.ErrUnsupported where the filesystem lacks it.
func renameExcl(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		return errors.ErrUnsupported
	}
	return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
}
