package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
)

// Progress reports download progress. total is -1 while unknown; the last
// call of a successful download has done == total.
type Progress func(done, total int64)

const maxDownload = 512 << 20 // Node's tarballs are ~30 MB; refuse a runaway body

var errTooLarge = fmt.Errorf("larger than %d MB; is this the right URL?", maxDownload>>20)

// stallTimeout aborts an HTTP download that receives no bytes for this long,
// so a dead connection fails instead of hanging until the caller gives up. A
// var so tests can shorten it.
var stallTimeout = time.Minute

// transport is shared by all downloads (connection reuse).
var transport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone() // keeps proxy settings from the environment
	t.ResponseHeaderTimeout = 30 * time.Second
	return t
}()

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
	}
	return nil
}

// Download fetches url and verifies its SHA-256 (hex) against the pin. It
// returns the verified bytes as an open file at offset 0 that no longer has
// a name: it was created O_EXCL in a private 0700 directory of its own
// under dir (same filesystem as the runtime), hashed while it was written,
// and unlinked once the hash matched, so nothing can swap it between the
// check and Extract. The caller closes it. A mismatch or error leaves
// nothing behind; the private directories of earlier killed downloads of
// the same name (".<name>.*.partial") are removed first. Supports
// http(s):// and file:// URLs. progress may be nil.
func Download(ctx context.Context, url, sha256Hex, dir string, progress Progress) (_ *os.File, err error) {
	shown := redact(url) // a mirror URL may carry credentials
	want, err := hex.DecodeString(sha256Hex)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("downloading %s: pinned sha256 %q is not 64 hex digits", shown, sha256Hex)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	u, size, err := check(url)
	if err != nil {
		return nil, err
	}
	base := tempBase(url)
	if err := removeStale(dir, "."+base+".", ".partial"); err != nil {
		return nil, fmt.Errorf("downloading %s: %w", shown, err)
	}
	priv, err := os.MkdirTemp(dir, "."+base+".*.partial") // 0700: no other user can reach the file
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", shown, err)
	}
	// Always: on success the file lives on as the descriptor only.
	defer fsutil.RemoveAll(priv)
	f, err := os.OpenFile(filepath.Join(priv, base), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", shown, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if u.Scheme == "file" {
		err = copyFile(ctx, u.Path, size, w, progress)
	} else {
		err = get(ctx, u, w, progress)
	}
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", shown, err)
	}
	// No fsync: the file is scratch, and Extract syncs what it produces.
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return nil, fmt.Errorf("verifying %s: %w: got sha256 %x, want %x; "+
			"the download may be corrupt, the mirror may serve a different build, or the file was tampered with",
			shown, ErrChecksumMismatch, got, want)
	}
	if _, err = f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("downloading %s: %w", shown, err)
	}
	return f, nil
}

// get streams an HTTP(S) download into w. A body that stops for
// stallTimeout fails instead of hanging until the caller gives up.
func get(ctx context.Context, u *neturl.URL, w io.Writer, progress Progress) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	// Any explicit Accept-Encoding stops net/http from transparently
	// decompressing, which would change the bytes we hash.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := (&http.Client{Transport: transport, CheckRedirect: checkRedirect}).Do(req)
	if err != nil {
		var ue *neturl.Error
		switch {
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case errors.As(err, &ue): // its message repeats the URL we already show
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("%w (HTTP %s)", ErrNotFound, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("HTTP %s", resp.Status)
	case resp.ContentLength > maxDownload:
		return errTooLarge
	}
	stall := time.AfterFunc(stallTimeout, func() {
		cancel(fmt.Errorf("no data received for %v", stallTimeout))
	})
	defer stall.Stop()
	return copyProgress(ctx, w, resp.Body, resp.ContentLength, progress, func() { stall.Reset(stallTimeout) })
}

// copyFile copies a file:// source into w.
func copyFile(ctx context.Context, path string, size int64, w io.Writer, progress Progress) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	return copyProgress(ctx, w, src, size, progress, func() {})
}

// copyProgress copies src to w, reporting progress and enforcing the size
// cap; total is -1 when unknown. The last report has done == total.
func copyProgress(ctx context.Context, w io.Writer, src io.Reader, total int64, progress Progress, alive func()) error {
	buf := make([]byte, 256<<10)
	var done int64
	progress(0, total)
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			alive()
			if done += int64(n); done > maxDownload {
				return errTooLarge
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			progress(done, total)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil { // cancelled by the caller or by the stall timer
				return context.Cause(ctx)
			}
			return rerr
		}
	}
	if total >= 0 && done != total {
		return fmt.Errorf("got %d bytes, want %d", done, total)
	}
	if total < 0 {
		progress(done, done)
	}
	return nil
}

// check validates url before go-getter sees it and returns it parsed, with
// the size of a file:// source (-1 for HTTP).
func check(url string) (*neturl.URL, int64, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, 0, fmt.Errorf("downloading: %w", err)
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "http", "https":
		return u, -1, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, 0, fmt.Errorf("downloading %s: file URLs must name a local path", shown)
		}
		fi, err := os.Stat(u.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, 0, fmt.Errorf("downloading %s: %w", shown, ErrNotFound)
		case err != nil:
			return nil, 0, fmt.Errorf("downloading %s: %w", shown, err)
		case !fi.Mode().IsRegular():
			return nil, 0, fmt.Errorf("downloading %s: not a regular file", shown)
		case fi.Size() > maxDownload:
			return nil, 0, fmt.Errorf("downloading %s: %w", shown, errTooLarge)
		}
		return u, fi.Size(), nil
	default:
		return nil, 0, fmt.Errorf("downloading %s: unsupported URL scheme %q (want https, http or file)", shown, u.Scheme)
	}
}

// redact hides a password in url for messages.
func redact(url string) string {
	if u, err := neturl.Parse(url); err == nil {
		return u.Redacted()
	}
	return url
}

// tempBase names the partial file after the URL's last element, so the
// leftover of a killed run can be found and removed.
func tempBase(url string) string {
	base := "download"
	if u, err := neturl.Parse(url); err == nil {
		if b := path.Base(u.Path); b != "." && b != ".." && b != "/" && !strings.ContainsAny(b, `*\`) {
			base = b[:min(len(b), 100)] // stay far below NAME_MAX
		}
	}
	return base
}

// ErrPermanent marks a provisioning error that retrying cannot fix (a
// missing install user, a wrong pin, no permission): the supervisor fails
// with its message instead of retrying forever.
var ErrPermanent = errors.New("retrying will not help")

// Permanent marks err as permanent without changing its text.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (e permanentError) Unwrap() []error { return []error{e.error, ErrPermanent} }

// Redact hides a URL's password, for logs.
func Redact(url string) string { return redact(url) }
