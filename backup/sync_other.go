//go:build !linux

package backup

import (
	"io/fs"
	"os"
	"path/filepath"
)

// syncTree writes everything below dir to disk: without syncfs(2), an
// fsync of every file and directory in it.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil // a symlink: its directory's fsync covers it
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
