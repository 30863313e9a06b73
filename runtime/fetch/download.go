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
	"strings"
	"time"
)

// Progress reports download progress. total is -1 while unknown; the last
// call of a successful download has done == total.
type Progress func(done, total int64)

const maxDownload = 512 << 20 // Node's tarballs are ~30 MB; refuse a runaway body

// stallTimeout aborts a download that receives no bytes for this long, so a
// dead connection fails instead of hanging until the caller gives up. A var
// so tests can shorten it.
var stallTimeout = time.Minute

var httpClient = &http.Client{
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone() // keeps proxy settings from the environment
		t.ResponseHeaderTimeout = 30 * time.Second
		return t
	}(),
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
		}
		return nil
	},
}

// Download fetches url into a new temporary file in dir (same filesystem as
// the final target), verifying SHA-256 (hex). It returns the path of the
// verified file; the caller removes it. A mismatch or error leaves nothing
// behind, and partial files of earlier killed downloads of the same name
// (".<name>.*.partial") are removed first. Supports http(s):// and file://
// URLs. progress may be nil.
func Download(ctx context.Context, url, sha256Hex, dir string, progress Progress) (_ string, err error) {
	shown := redact(url) // a mirror URL may carry credentials
	want, err := hex.DecodeString(sha256Hex)
	if err != nil || len(want) != sha256.Size {
		return "", fmt.Errorf("downloading %s: pinned sha256 %q is not 64 hex digits", shown, sha256Hex)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	body, total, err := open(ctx, url)
	if err != nil {
		return "", err
	}
	defer body.Close()

	base := tempBase(url)
	if err := removeStale(dir, "."+base+".", ".partial"); err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	f, err := os.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	stall := time.AfterFunc(stallTimeout, func() {
		cancel(fmt.Errorf("no data received for %v", stallTimeout))
	})
	defer stall.Stop()
	h := sha256.New()
	progress(0, total)
	cr := &countingReader{ctx: ctx, r: io.LimitReader(body, maxDownload+1), total: total, progress: progress, stall: stall}
	n, err := io.Copy(io.MultiWriter(f, h), cr)
	switch {
	case ctx.Err() != nil: // cancelled by the caller or by the stall timer
		return "", fmt.Errorf("downloading %s: %w", shown, context.Cause(ctx))
	case err != nil:
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	case n > maxDownload:
		return "", fmt.Errorf("downloading %s: larger than %d MB; is this the right URL?", shown, maxDownload>>20)
	case total >= 0 && n != total:
		return "", fmt.Errorf("downloading %s: got %d bytes, want %d", shown, n, total)
	}
	// No fsync: the file is scratch, and Extract syncs what it produces.
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("downloading %s: %w", shown, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return "", fmt.Errorf("verifying %s: %w: got sha256 %x, want %x; "+
			"the download may be corrupt, the mirror may serve a different build, or the file was tampered with",
			shown, ErrChecksumMismatch, got, want)
	}
	if total < 0 {
		progress(n, n)
	}
	return f.Name(), nil
}

// open returns the body of url and its size (-1 if unknown).
func open(ctx context.Context, url string) (io.ReadCloser, int64, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, 0, fmt.Errorf("downloading: %w", err)
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "http", "https":
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, 0, fmt.Errorf("downloading %s: file URLs must name a local path", shown)
		}
		f, err := os.Open(u.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("downloading %s: %w", shown, ErrNotFound)
		} else if err != nil {
			return nil, 0, fmt.Errorf("downloading %s: %w", shown, err)
		}
		fi, err := f.Stat()
		if err == nil && !fi.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("downloading %s: %w", shown, err)
		}
		return f, fi.Size(), nil
	default:
		return nil, 0, fmt.Errorf("downloading %s: unsupported URL scheme %q (want https, http or file)", shown, u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("downloading %s: %w", shown, err)
	}
	// Any explicit Accept-Encoding stops net/http from transparently
	// decompressing, which would change the bytes we hash.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := httpClient.Do(req)
	if ue := (*neturl.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // its message repeats the URL we already show
	}
	if err != nil {
		return nil, 0, fmt.Errorf("downloading %s: %w", shown, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("downloading %s: %w (HTTP %s)", shown, ErrNotFound, resp.Status)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("downloading %s: HTTP %s", shown, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
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
		if b := path.Base(u.Path); b != "." && b != "/" && !strings.ContainsAny(b, `*\`) {
			base = b[:min(len(b), 100)] // stay far below NAME_MAX
		}
	}
	return base
}

// countingReader reports progress and keeps the stall timer from firing
// while bytes arrive.
type countingReader struct {
	ctx      context.Context // file reads don't watch it on their own
	r        io.Reader
	done     int64
	total    int64
	progress Progress
	stall    *time.Timer
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.r.Read(p)
	if n > 0 {
		c.stall.Reset(stallTimeout)
		c.done += int64(n)
		c.progress(c.done, c.total)
	}
	return n, err
}
