package logpipe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// maxPending bounds how much of an unterminated line Follow holds back.
const maxPending = 1 << 20

// follower is Follow's state: the open file, how far it has been copied, and
// an unterminated last line held back so a half-written record is not
// printed in two pieces.
type follower struct {
	path    string
	w       io.Writer
	f       *os.File // nil until path exists
	off     int64
	pending []byte
	buf     []byte
}

// start opens path at its end. A missing file is fine: once it appears it
// is all new, so it is then read from the top.
func (fl *follower) start() error {
	f, err := os.Open(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logpipe: follow: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("logpipe: follow: stat %s: %w", fl.path, err)
	}
	fl.f, fl.off = f, st.Size()
	return nil
}

// poll copies whatever is new, switching files on rotation (path now names
// a different inode) and starting over on truncation (file shorter than
// what was already copied).
func (fl *follower) poll() error {
	st, err := os.Stat(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fl.drain() // mid-rotation: the old file may still have lines
	}
	if err != nil {
		return fmt.Errorf("logpipe: follow: %w", err)
	}
	if fl.f != nil {
		cur, err := fl.f.Stat()
		if err != nil {
			return fmt.Errorf("logpipe: follow: stat open file %s: %w", fl.path, err)
		}
		if os.SameFile(st, cur) {
			if cur.Size() < fl.off {
				fl.off, fl.pending = 0, fl.pending[:0]
			}
			return fl.drain()
		}
		if err := fl.drain(); err != nil {
			return err
		}
		if len(fl.pending) > 0 {
			// The writer never resumes a line in the next file.
			if err := fl.emit(append(fl.pending, '\n')); err != nil {
				return err
			}
			fl.pending = fl.pending[:0]
		}
		fl.close()
	}
	f, err := os.Open(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logpipe: follow: %w", err)
	}
	fl.f, fl.off = f, 0
	return fl.drain()
}

// drain copies complete lines from the current offset to the end of file.
func (fl *follower) drain() error {
	if fl.f == nil {
		return nil
	}
	if fl.buf == nil {
		fl.buf = make([]byte, 32<<10)
	}
	for {
		n, err := fl.f.ReadAt(fl.buf, fl.off)
		if n > 0 {
			fl.off += int64(n)
			fl.pending = append(fl.pending, fl.buf[:n]...)
			if err := fl.emitComplete(); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("logpipe: follow: read %s: %w", fl.path, err)
		}
	}
}

// emitComplete writes pending up to its last newline, or all of it once it
// exceeds maxPending so a line without end cannot grow memory unbounded.
func (fl *follower) emitComplete() error {
	i := bytes.LastIndexByte(fl.pending, '\n')
	if i < 0 && len(fl.pending) < maxPending {
		return nil
	}
	if i < 0 {
		i = len(fl.pending) - 1
	}
	if err := fl.emit(fl.pending[:i+1]); err != nil {
		return err
	}
	fl.pending = fl.pending[:copy(fl.pending, fl.pending[i+1:])]
	return nil
}

func (fl *follower) emit(b []byte) error {
	if _, err := fl.w.Write(b); err != nil {
		return fmt.Errorf("logpipe: follow: write output: %w", err)
	}
	return nil
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}
