package fetch

import (
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames old to new, failing if new appeared since Install
// checked: a plain rename would silently replace an empty directory.
func renameNoReplace(old, new string) error {
	if err := unix.RenamexNp(old, new, unix.RENAME_EXCL); err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	return nil
}

// syncTree fsyncs everything under dir (os.File.Sync is F_FULLFSYNC here).
func syncTree(dir string) error { return syncWalk(dir) }
