package logpipe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// RotatingFile is a goroutine-safe io.Writer that caps disk use: when a
// write would take the file past maxBytes it renames path -> path.1 -> ...
// -> path.<keep> (dropping the oldest) and starts a new path. Each Write
// lands whole in one file, so a slog handler's record is never split, and
// total disk use stays within (keep+1)*maxBytes plus one write (a write
// larger than maxBytes gets a file of its own).
type RotatingFile struct {
	path     string
	maxBytes int64
	keep     int

	mu     sync.Mutex
	f      *os.File // nil after a failed reopen; the next Write retries
	size   int64
	closed bool
}

// OpenRotating opens path for appending, creating its directory (0700) and
// the file (0600) if needed. Logs can carry tokens and chat content, so an
// existing file is also narrowed to 0600.
func OpenRotating(path string, maxBytes int64, keep int) (*RotatingFile, error) {
	if maxBytes <= 0 || keep < 0 {
		return nil, fmt.Errorf("logpipe: open %s: need maxBytes > 0 and keep >= 0, got %d and %d", path, maxBytes, keep)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("logpipe: create log directory: %w", err)
	}
	r := &RotatingFile{path: path, maxBytes: maxBytes, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("logpipe: open log file: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("logpipe: prepare log file %s: %w", r.path, err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends b, rotating first if b would not fit in the current file.
func (r *RotatingFile) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("logpipe: write %s: %w", r.path, os.ErrClosed)
	}
	if r.f != nil && r.size > 0 && r.size+int64(len(b)) > r.maxBytes {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(b)
	r.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("logpipe: write %s: %w", r.path, err)
	}
	return n, nil
}

// rotate shifts the files along and reopens path. On a rename failure the
// current file is kept (and grows past maxBytes) rather than losing lines.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		r.f = nil
		return fmt.Errorf("logpipe: close %s for rotation: %w", r.path, err)
	}
	r.f = nil
	if err := removeIfExists(r.rotated(r.keep)); err != nil {
		return fmt.Errorf("logpipe: rotate: %w", err)
	}
	for k := r.keep - 1; k >= 0; k-- {
		err := os.Rename(r.rotated(k), r.rotated(k+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			if k == 0 {
				// Could not move path aside: keep appending to it.
				return r.open()
			}
			return fmt.Errorf("logpipe: rotate: %w", err)
		}
	}
	return r.open()
}

// rotated names the k-th file: path itself for 0, path.k otherwise.
func (r *RotatingFile) rotated(k int) string {
	if k == 0 {
		return r.path
	}
	return r.path + "." + strconv.Itoa(k)
}

func removeIfExists(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Close closes the current file; later Writes fail.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.f == nil {
		return nil
	}
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("logpipe: close %s: %w", r.path, err)
	}
	return nil
}
