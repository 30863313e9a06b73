// Package fsutil holds small file helpers shared by openclawd's packages:
// atomic writes, so that a crash or a full disk never leaves a half-written
// file in use.
package fsutil

import (
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, fsyncs it, renames it into place and fsyncs the directory, so a
// crash leaves either the old file or the new one. Parent directories are
// created 0700.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteFileAtomicOwned(path, data, perm, -1, -1)
}

// WriteFileAtomicOwned is WriteFileAtomic with the file's owner set before
// the rename (-1 keeps the writer's), so a reader never sees it with the
// wrong owner, not even for a moment.
func WriteFileAtomicOwned(path string, data []byte, perm os.FileMode, uid, gid int) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // harmless after the rename
	err = f.Chmod(perm)
	if err == nil && (uid >= 0 || gid >= 0) {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
