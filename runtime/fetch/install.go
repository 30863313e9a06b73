package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/internal/fsutil"
)

// Install runs fill on a fresh temporary sibling of final (made 0755
// first; fill may narrow it), fsyncs it, and renames it to final. On any
// error the temporary dir is removed and final is untouched. It refuses if
// final exists. Leftover temp siblings of earlier killed runs (named
// ".<base>.tmp-*") are removed first. The parent of final is created if
// missing. fill's error is returned as is.
func Install(final string, fill func(tmp string) error) error {
	return install(final, func(tmp string, d *os.File) error {
		// The runtime must be readable by its users; through the
		// descriptor, not the name.
		if err := d.Chmod(0o755); err != nil {
			return fmt.Errorf("installing %s: %w", final, err)
		}
		return fill(tmp)
	})
}

// install is Install with the temporary directory also open as d, made by
// os.MkdirTemp (0700) and left 0700 for fill to change through d. The
// directory must still be d when it is renamed, and final must be d after
// the rename: a swap by whoever can write the parent is an error, never an
// install of something else.
func install(final string, fill func(tmp string, d *os.File) error) (err error) {
	final = filepath.Clean(final)
	parent, base := filepath.Dir(final), filepath.Base(final)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("installing %s: %w", final, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	prefix := "." + base + ".tmp-"
	if err := removeStale(parent, prefix, ""); err != nil {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	tmp, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	defer func() {
		if err != nil {
			fsutil.RemoveAll(tmp) // after a successful rename this is a no-op
		}
	}()
	d, err := os.OpenFile(tmp, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	defer d.Close()
	if err := fill(tmp, d); err != nil {
		return err
	}
	if err := sameDir(tmp, d); err != nil {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	// Data must be on disk before the rename makes it visible: otherwise a
	// crash can leave final present but holding empty or torn files.
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("installing %s: syncing: %w", final, err)
	}
	if err := renameNoReplace(tmp, final); err != nil {
		return fmt.Errorf("installing %s: %w", final, err)
	}
	if err := sameDir(final, d); err != nil {
		return fmt.Errorf("installed %s, but: %w; remove it (`rm -rf %s`) and retry", final, err, final)
	}
	// The rename itself is durable only once the parent is synced.
	if err := syncPath(parent); err != nil {
		return fmt.Errorf("installing %s: installed, but syncing %s: %w", final, parent, err)
	}
	return nil
}

// sameDir checks that p (not followed) is still the directory open as d.
func sameDir(p string, d *os.File) error {
	want, err := d.Stat()
	if err != nil {
		return err
	}
	got, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !os.SameFile(got, want) {
		return fmt.Errorf("%s was replaced while openclawd was filling it: refusing it (is another process writing the runtime dir?)", p)
	}
	return nil
}

// removeStale deletes temporaries left by runs that were killed before
// their deferred cleanup could run.
func removeStale(parent, prefix, suffix string) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), suffix) {
			if err := fsutil.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				errs = append(errs, fmt.Errorf("removing stale %s: %w", e.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// syncWalk fsyncs every regular file and directory under dir; symlinks live
// in their directory's entries, which the directory's fsync covers.
func syncWalk(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Type().IsRegular() {
			return syncPath(p)
		}
		return nil
	})
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
