package fetch

import (
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
	"strings"
	"sync"
	"time"

	getter "github.com/hashicorp/go-getter/v2"
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

// transport is shared by all downloads (connection reuse); each download
// wraps it to learn the final HTTP status, which go-getter only reports as
// text.
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

// Download fetches url into a new temporary file in dir (same filesystem as
// the final target), verifying SHA-256 (hex). It returns the path of the
// verified file; the caller removes it. A mismatch or error leaves nothing
// behind, and partial files of earlier killed downloads of the same name
// (".<name>.*.partial") are removed first. Supports http(s):// and file://
// URLs. progress may be nil; file:// copies report only start and end.
//
// The transfer and the checksum are go-getter/v2's (HTTP and file getters
// only, no decompression, no X-Terraform-Get).
func Download(ctx context.Context, url, sha256Hex, dir string, progress Progress) (_ string, err error) {
	shown := redact(url) // a mirror URL may carry credentials
	if b, err := hex.DecodeString(sha256Hex); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("downloading %s: pinned sha256 %q is not 64 hex digits", shown, sha256Hex)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	u, size, err := check(url)
	if err != nil {
		return "", err
	}
	// go-getter takes the checksum from the query and strips it before the
	// request.
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "checksum=sha256:" + strings.ToLower(sha256Hex)

	base := tempBase(url)
	if err := removeStale(dir, "."+base+".", ".partial"); err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	// Reserve a unique name; go-getter writes next to it (it must create
	// Dst itself: it skips the download if Dst already has the checksum, and
	// resumes into an existing file), and a success is renamed over it.
	f, err := os.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	name := f.Name()
	f.Close()
	dst := strings.TrimSuffix(name, ".partial") + ".get.partial" // also matches removeStale
	defer func() {
		if err != nil { // go-getter leaves a mismatching file at dst
			os.Remove(dst)
			os.Remove(name)
		}
	}()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tr := &tracker{cancel: cancel, progress: progress}
	defer tr.stop()
	st := &statusTransport{base: transport}
	c := &getter.Client{
		Getters: []getter.Getter{
			&getter.HttpGetter{
				Client: &http.Client{Transport: st, CheckRedirect: checkRedirect},
				// Any explicit Accept-Encoding stops net/http from
				// transparently decompressing, which would change the
				// bytes we hash.
				Header:                http.Header{"Accept-Encoding": {"identity"}},
				XTerraformGetDisabled: true,
				DoNotCheckHeadFirst:   true, // a fresh file: nothing to resume
				// Ignored while a ProgressListener is set (v2.2.5 wraps
				// the unlimited body); tracker enforces the cap.
				MaxBytes: maxDownload + 1,
			},
			new(getter.FileGetter),
		},
		Decompressors: map[string]getter.Decompressor{}, // Extract unpacks
	}
	if size >= 0 {
		progress(0, size)
	}
	_, err = c.Get(ctx, &getter.Request{
		Src:              u.String(),
		Dst:              dst,
		GetMode:          getter.ModeFile,
		Copy:             true, // file://: copy, don't symlink
		ProgressListener: tr,
	})
	if err != nil {
		return "", downloadError(ctx, shown, err, st, tr)
	}
	// No fsync: the file is scratch, and Extract syncs what it produces.
	if err := os.Chmod(dst, 0o600); err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	if err := os.Rename(dst, name); err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	if done, total := tr.counts(); !tr.started() || total < 0 || done != total {
		fi, err := os.Stat(name)
		if err != nil {
			return "", fmt.Errorf("downloading %s: %w", shown, err)
		}
		progress(fi.Size(), fi.Size())
	}
	return name, nil
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
		// go-getter reads "//" in the path as "download the root, then
		// copy this subdirectory".
		rest, _, _ := strings.Cut(url, "?")
		if _, rest, _ = strings.Cut(rest, "://"); strings.Contains(rest, "//") {
			return nil, 0, fmt.Errorf("downloading %s: the URL path must not contain \"//\"", shown)
		}
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

// downloadError maps go-getter's errors onto ours.
func downloadError(ctx context.Context, shown string, err error, st *statusTransport, tr *tracker) error {
	var ce *getter.ChecksumError
	ue := (*neturl.Error)(nil)
	code, status := st.last()
	switch {
	case ctx.Err() != nil: // cancelled by the caller or by the stall timer
		return fmt.Errorf("downloading %s: %w", shown, context.Cause(ctx))
	case errors.As(err, &ce):
		return fmt.Errorf("verifying %s: %w: got sha256 %x, want %x; "+
			"the download may be corrupt, the mirror may serve a different build, or the file was tampered with",
			shown, ErrChecksumMismatch, ce.Actual, ce.Expected)
	case errors.As(err, &ue): // e.g. a refused redirect; the last status is a 3xx
		// Its message repeats the URL (with the checksum) we already show.
		return fmt.Errorf("downloading %s: %w", shown, ue.Err)
	case code == http.StatusNotFound || code == http.StatusGone:
		return fmt.Errorf("downloading %s: %w (HTTP %s)", shown, ErrNotFound, status)
	case code != 0 && code != http.StatusOK: // go-getter's "bad response code: N"
		return fmt.Errorf("downloading %s: HTTP %s", shown, status)
	case errors.Is(err, io.ErrShortWrite): // body ended early without a read error
		done, total := tr.counts()
		return fmt.Errorf("downloading %s: got %d bytes, want %d", shown, done, total)
	}
	return fmt.Errorf("downloading %s: %w", shown, err)
}

// statusTransport records the status of the last response.
type statusTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	code   int
	status string
}

func (t *statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		t.mu.Lock()
		t.code, t.status = resp.StatusCode, resp.Status
		t.mu.Unlock()
	}
	return resp, err
}

func (t *statusTransport) last() (int, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.code, t.status
}

// tracker is go-getter's ProgressListener: it feeds Progress, enforces the
// size cap and keeps the stall timer from firing while bytes arrive.
// go-getter reads the body on the goroutine that called Download.
type tracker struct {
	cancel   context.CancelCauseFunc
	progress Progress
	stall    *time.Timer
	done     int64
	total    int64
}

func (t *tracker) TrackProgress(_ string, current, total int64, body io.ReadCloser) io.ReadCloser {
	if total < current { // unknown length: current + -1
		total = -1
	}
	t.done, t.total = current, total
	t.stall = time.AfterFunc(stallTimeout, func() {
		t.cancel(fmt.Errorf("no data received for %v", stallTimeout))
	})
	t.progress(t.done, t.total)
	return &trackedBody{t: t, r: io.LimitReader(body, maxDownload+1), c: body}
}

func (t *tracker) started() bool          { return t.stall != nil }
func (t *tracker) counts() (int64, int64) { return t.done, t.total }

func (t *tracker) stop() {
	if t.stall != nil {
		t.stall.Stop()
	}
}

type trackedBody struct {
	t *tracker
	r io.Reader
	c io.Closer
}

func (b *trackedBody) Read(p []byte) (int, error) {
	if b.t.total > maxDownload {
		return 0, errTooLarge
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.t.stall.Reset(stallTimeout)
		b.t.done += int64(n)
		if b.t.done > maxDownload {
			return 0, errTooLarge
		}
		b.t.progress(b.t.done, b.t.total)
	}
	return n, err
}

func (b *trackedBody) Close() error { return b.c.Close() }

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
		if b := path.Base(u.Path); b != "." && b != "/" && !strings.ContainsAny(b, `*\`) {
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
