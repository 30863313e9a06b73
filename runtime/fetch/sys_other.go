//go:build !linux && !darwin

package fetch

import (
	"fmt"
	"io/fs"
	"os"
)

// renameNoReplace renames old to new unless new exists. Without an
// exclusive rename there is a small window between check and rename.
func renameNoReplace(old, new string) error {
	if _, err := os.Lstat(new); err == nil {
		return fmt.Errorf("renaming to %s: %w", new, fs.ErrExist)
	}
	return os.Rename(old, new)
}

func syncTree(dir string) error { return syncWalk(dir) }
