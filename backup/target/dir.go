package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// partialInfix marks files a Put is still writing: "."+name+partialInfix+random.
// They start with a dot, so List never shows them.
const partialInfix = ".partial-"

// stalePartialAge is how long a partial file must have gone unwritten
// before a later Put removes it as left by a crashed or killed upload. A
// live upload writes continuously, so its mtime stays fresh.
const stalePartialAge = 24 * time.Hour

type dirTarget struct {
	name, path string
}

// NewDir returns a target that keeps archives as files in path, typically
// on a mounted disk. It does no I/O: the directory is created (0700) by the
// first Put or Check, so a disk plugged in after the daemon started still
// works, but only if its parent exists, so that an unmounted disk is
// reported rather than filled in on the root filesystem below the mount
// point's parent.
func NewDir(name, path string) (Target, error) {
	if path == "" {
		return nil, fmt.Errorf("backup target %s: no directory given", name)
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("backup target %s: directory %q is not an absolute path", name, path)
	}
	return &dirTarget{name: name, path: filepath.Clean(path)}, nil
}

func (d *dirTarget) Name() string     { return d.name }
func (d *dirTarget) Describe() string { return d.path }

// ensure creates the directory if it is missing and its parent exists.
func (d *dirTarget) ensure() error {
	st, err := os.Stat(d.path)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("backup directory %s is not a directory: point backup target %s at a directory", d.path, d.name)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup directory %s: %w", d.path, err)
	}
	parent := filepath.Dir(d.path)
	if _, perr := os.Stat(parent); errors.Is(perr, fs.ErrNotExist) {
		return fmt.Errorf("backup directory %s cannot be created because %s does not exist: is the disk mounted? %w", d.path, parent, fs.ErrNotExist)
	}
	if err := os.Mkdir(d.path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating backup directory %s: %w", d.path, err)
	}
	return nil
}

// missing explains a directory that is not there when it must be.
func (d *dirTarget) missing(err error) error {
	return fmt.Errorf("backup directory %s does not exist (is the disk mounted?): %w", d.path, err)
}

func (d *dirTarget) Put(ctx context.Context, name string, r io.Reader, size int64) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	if err := d.ensure(); err != nil {
		return err
	}
	final := filepath.Join(d.path, name)
	if _, err := os.Lstat(final); err == nil {
		return d.exists(name)
	}
	tmp := filepath.Join(d.path, "."+name+partialInfix+randomSuffix())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return d.writeErr(name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	sr := &sizedReader{r: r, size: size}
	if _, err := io.Copy(f, ctxReader{ctx, sr}); err != nil {
		if sr.srcErr != nil {
			return fmt.Errorf("storing %s in %s failed: %w", name, d.path, sr.srcErr)
		}
		return d.writeErr(name, err)
	}
	if err := f.Sync(); err != nil {
		return d.writeErr(name, err)
	}
	if err := f.Close(); err != nil {
		return d.writeErr(name, err)
	}
	if err := renameNoReplace(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return d.exists(name)
		}
		return d.writeErr(name, err)
	}
	// The rename is only durable once the directory is synced.
	if err := syncDir(d.path); err != nil {
		return d.writeErr(name, err)
	}
	d.removeStalePartials()
	return nil
}

func (d *dirTarget) exists(name string) error {
	return &targetError{
		msg:  fmt.Sprintf("archive %s already exists in %s: refusing to overwrite it", name, d.path),
		kind: ErrExists,
	}
}

func (d *dirTarget) writeErr(name string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &targetError{
			msg:   fmt.Sprintf("the backup store %s is full (%v): free space on that disk or keep fewer archives, then retry", d.path, errors.Unwrap(err)),
			kind:  ErrFull,
			cause: err,
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("storing %s in %s: %w", name, d.path, err)
	}
	return fmt.Errorf("storing %s in %s failed: %w", name, d.path, err)
}

// removeStalePartials deletes partial files nobody has written for a day:
// left by a crash, they would otherwise fill the disk unseen.
func (d *dirTarget) removeStalePartials() {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), partialInfix) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < stalePartialAge {
			continue
		}
		p := filepath.Join(d.path, e.Name())
		if err := os.Remove(p); err == nil {
			slog.Info("removed partial backup file left by an interrupted upload", "target", d.name, "file", p, "size", info.Size())
		}
	}
}

func (d *dirTarget) List(ctx context.Context) ([]Object, error) {
	entries, err := os.ReadDir(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, d.missing(err)
	}
	if err != nil {
		return nil, fmt.Errorf("listing backup directory %s: %w", d.path, err)
	}
	objs := []Object{}
	for _, e := range entries {
		// Dotfiles are partial uploads (or not ours); symlinks and
		// directories are not archives this target wrote.
		if !e.Type().IsRegular() || checkName(e.Name()) != nil {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("listing backup directory %s: %w", d.path, err)
		}
		objs = append(objs, Object{Name: e.Name(), Size: info.Size(), Modified: info.ModTime()})
	}
	sortNewestFirst(objs)
	return objs, nil
}

func (d *dirTarget) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := filepath.Join(d.path, name)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(d.path); derr != nil {
			return nil, d.missing(derr)
		}
		return nil, fmt.Errorf("archive %s is not in %s: %w", name, d.path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening archive %s: %w", p, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening archive %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("archive %s is not a regular file", p)
	}
	return f, nil
}

func (d *dirTarget) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := filepath.Join(d.path, name)
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting archive %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not deleting %s: it is not a regular file, so not an archive", p)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting archive %s: %w", p, err)
	}
	return syncDir(d.path)
}

// Check creates the directory if needed and proves it writable with a
// probe file that it removes again.
func (d *dirTarget) Check(ctx context.Context) error {
	if err := d.ensure(); err != nil {
		return err
	}
	p := filepath.Join(d.path, ".probe"+partialInfix+randomSuffix())
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("backup directory %s is not writable: %w", d.path, err)
	}
	f.Close()
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("backup directory %s: removing probe file: %w", d.path, err)
	}
	return nil
}

// syncDir fsyncs a directory so that entries created or renamed in it
// survive a crash. Filesystems that cannot sync a directory (EINVAL) have
// nothing more to offer.
func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing directory %s: %w", path, err)
	}
	return nil
}

// renameNoReplace renames old to new, failing with fs.ErrExist if new
// exists. Where the atomic primitives are missing (link on exFAT, say) it
// falls back to check-then-rename: backups run one at a time, so the race
// it leaves is with a person, not with another Put.
func renameNoReplace(old, new string) error {
	err := renameExcl(old, new)
	if !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	err = os.Link(old, new)
	if err == nil {
		return os.Remove(old)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(new); serr == nil {
		return &fs.PathError{Op: "rename", Path: new, Err: fs.ErrExist}
	}
	return os.Rename(old, new)
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
