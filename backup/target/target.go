// Package target is where backup archives are kept offsite: a directory
// (typically a mounted disk) or an S3-compatible bucket, optionally
// encrypted with age on the way there.
//
// Every target stores whole archives atomically, so an archive that is
// listed is complete: an upload that fails or is interrupted leaves
// nothing a restore or a prune could mistake for a backup. Errors are
// single sentences that say what is wrong and what to do, because they
// end up in `openclawd doctor`, the journal and failed-backup notices.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Object is one stored, complete archive.
type Object struct {
	Name     string
	Size     int64
	Modified time.Time
}

// Target keeps archives. Put is atomic: a partial or interrupted upload is
// never listed or opened.
type Target interface {
	// Name is the target's config name, for messages.
	Name() string
	// Describe says where archives go, e.g. "s3://bucket/prefix at
	// https://host" or "/mnt/disk/backups"; never credentials.
	Describe() string
	// Put stores r under name; size is its length, or -1 if unknown. It
	// refuses to replace an existing archive of the same name, and fails if
	// r does not hold exactly size bytes.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// List returns complete archives only, newest first (by Modified, then
	// by Name, descending).
	List(ctx context.Context) ([]Object, error)
	// Open returns an archive's content; a missing one is an error that
	// matches fs.ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes an archive. Deleting one that is not there is not an
	// error: S3 cannot tell, and a prune that was interrupted must be able
	// to run again.
	Delete(ctx context.Context, name string) error
}

// Checker is implemented by targets that can test, cheaply and without
// storing anything lasting, that they are usable: for `openclawd doctor`
// and setup.
type Checker interface {
	Check(ctx context.Context) error
}

// Errors that a target's errors match (errors.Is), so callers can react
// without parsing messages.
var (
	ErrCredentials = errors.New("credentials refused")
	ErrUnreachable = errors.New("target unreachable")
	ErrNoBucket    = errors.New("bucket does not exist")
	ErrFull        = errors.New("backup store is full")
	ErrExists      = errors.New("archive already exists")
)

// targetError is a one-sentence message that still matches both its kind
// and the underlying cause with errors.Is / errors.As.
type targetError struct {
	msg   string
	kind  error
	cause error
}

func (e *targetError) Error() string { return e.msg }

func (e *targetError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// checkName rejects names that could escape the target's directory or
// prefix, or collide with the partial files a directory target writes.
func checkName(name string) error {
	why := ""
	switch {
	case name == "":
		why = "it is empty"
	case len(name) > 200:
		why = "it is longer than 200 bytes"
	case strings.HasPrefix(name, "."):
		why = "it starts with a dot"
	case strings.ContainsAny(name, `/\`):
		why = "it contains a slash"
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }):
		why = "it contains control characters or invalid UTF-8"
	}
	if why != "" {
		return fmt.Errorf("archive name %q is not valid: %s", name, why)
	}
	return nil
}

// sortNewestFirst orders objects by Modified, newest first, then by Name
// descending: archive names carry a timestamp, so on a tie the later name
// is the newer archive.
func sortNewestFirst(objs []Object) {
	slices.SortFunc(objs, func(a, b Object) int {
		if c := b.Modified.Compare(a.Modified); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
}

// sizedReader passes r through and makes sure it holds exactly size bytes
// (when size >= 0): a short archive is an error at its end, and a longer
// one is an error rather than silently cut. It remembers the error the
// source returned, so a failed upload can blame the archive and not the
// target.
type sizedReader struct {
	r       io.Reader
	size, n int64
	srcErr  error // a read error of r itself, not io.EOF
	checked bool  // the read past size was done
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if s.srcErr != nil {
		return 0, s.srcErr
	}
	if s.size >= 0 && s.n >= s.size {
		return 0, s.checkEnd()
	}
	if s.size >= 0 && int64(len(p)) > s.size-s.n {
		p = p[:s.size-s.n]
	}
	m, err := s.r.Read(p)
	s.n += int64(m)
	switch {
	case err == io.EOF && s.size >= 0 && s.n < s.size:
		s.srcErr = &archiveErr{fmt.Errorf("the archive ended after %d of the %d bytes announced: %w", s.n, s.size, io.ErrUnexpectedEOF)}
		return m, s.srcErr
	case err != nil && err != io.EOF:
		s.srcErr = asArchiveErr(err)
		return m, s.srcErr
	}
	return m, err
}

// archiveErr is a failure of the archive being stored, not of the store.
type archiveErr struct{ err error }

func (e *archiveErr) Error() string { return e.err.Error() }
func (e *archiveErr) Unwrap() error { return e.err }

// asArchiveErr wraps err once: a wrapper's pipe passes on an error an inner
// sizedReader already wrapped.
func asArchiveErr(err error) error {
	var ae *archiveErr
	if errors.As(err, &ae) {
		return err
	}
	return &archiveErr{fmt.Errorf("reading the archive: %w", err)}
}

// checkEnd reads one byte past size: EOF means the size was right.
func (s *sizedReader) checkEnd() error {
	if s.checked {
		return io.EOF
	}
	s.checked = true
	var b [1]byte
	m, err := io.ReadFull(s.r, b[:])
	switch {
	case m > 0:
		s.srcErr = &archiveErr{fmt.Errorf("the archive is longer than the %d bytes announced", s.size)}
	case err != io.EOF:
		s.srcErr = asArchiveErr(err)
	default:
		return io.EOF
	}
	return s.srcErr
}

// finish is called after a store accepted the data: it reports an archive
// that was shorter or longer than announced, which a store that reads
// exactly size bytes would not notice.
func (s *sizedReader) finish() error {
	if s.srcErr != nil {
		return s.srcErr
	}
	if s.size < 0 {
		return nil
	}
	if s.n < s.size {
		return fmt.Errorf("the archive ended after %d of the %d bytes announced", s.n, s.size)
	}
	if err := s.checkEnd(); err != io.EOF {
		return err
	}
	return nil
}

// ctxReader stops a copy once ctx is done: a local copy has no other
// point at which to notice.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
