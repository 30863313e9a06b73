package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/openclawd/openclawd/runtime/fetch"
)

// maxSums caps SHASUMS256.txt: the real file is ~6 KB.
const maxSums = 1 << 20

// noFileError is a mirror without the requested file (HTTP 404, no such
// path); its text says which and how.
type noFileError struct{ msg string }

func (e noFileError) Error() string { return e.msg }

// Sums reads <mirror>/v<version>/SHASUMS256.txt and returns the sha256 of
// node-v<version>-<platform>.tar.xz for every platform it lists, keyed like
// Platform ("linux-x64"). The mirror is chosen as for Options.Mirror
// (MirrorEnv, then mirrorURL, then DefaultMirror), so the sums come from
// where Ensure will download. http(s):// and file:// mirrors work.
func Sums(ctx context.Context, mirrorURL, version string) (map[string]string, error) {
	base := strings.TrimRight(mirror(mirrorURL), "/")
	url := fmt.Sprintf("%s/v%s/SHASUMS256.txt", base, version)
	data, err := readURL(ctx, url)
	if nf := (noFileError{}); errors.As(err, &nf) {
		return nil, fmt.Errorf("Node %s is not on %s (%v): check the version", version, fetch.Redact(base), err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Node %s checksums: %w", version, err)
	}
	sums, err := ParseSums(bytes.NewReader(data), version)
	if err != nil {
		return nil, fmt.Errorf("reading Node %s checksums from %s: %w", version, fetch.Redact(url), err)
	}
	return sums, nil
}

// SumFor is the sha256 Sums gives for this host's Platform.
func SumFor(ctx context.Context, mirrorURL, version string) (string, error) {
	platform, err := Platform()
	if err != nil {
		return "", err
	}
	sums, err := Sums(ctx, mirrorURL, version)
	if err != nil {
		return "", err
	}
	sum, ok := sums[platform]
	if !ok {
		return "", fmt.Errorf("Node %s on %s has no build for %s (no node-v%s-%s.tar.xz in SHASUMS256.txt)",
			version, fetch.Redact(mirror(mirrorURL)), platform, version, platform)
	}
	return sum, nil
}

// ParseSums reads a SHASUMS256.txt ("<sha256 hex>  <file name>" lines) and
// returns the sha256 of node-v<version>-<platform>.tar.xz by platform.
// Other files are skipped, but every line must be well formed: a garbled
// file is not a mirror to trust.
func ParseSums(r io.Reader, version string) (map[string]string, error) {
	prefix, suffix := "node-v"+version+"-", ".tar.xz"
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if b, err := hex.DecodeString(sum); !ok || err != nil || len(b) != 32 || name == "" {
			return nil, fmt.Errorf("SHASUMS256.txt line %d: malformed %q", n, line)
		}
		name = strings.TrimPrefix(name, "*") // sha256sum's binary-mode marker
		// A platform is <os>-<arch>: this skips node-v<version>-headers.tar.xz.
		if strings.HasPrefix(name, prefix) && strings.HasSuffix(name, suffix) && len(name) > len(prefix)+len(suffix) {
			if p := name[len(prefix) : len(name)-len(suffix)]; platformName(p) {
				out[p] = strings.ToLower(sum)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading SHASUMS256.txt: %w", err)
	}
	return out, nil
}

func platformName(p string) bool {
	goos, arch, ok := strings.Cut(p, "-")
	return ok && goos != "" && arch != "" && !strings.ContainsAny(arch, "-/")
}

// readURL returns a small file from an http(s):// or file:// URL; a
// missing one is a noFileError. Proxies come from the environment, as for
// Ensure's download.
func readURL(ctx context.Context, url string) ([]byte, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("bad mirror URL: %w", err)
	}
	shown := u.Redacted() // a mirror URL may carry credentials
	var body io.ReadCloser
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("%s: file URLs must name a local path", shown)
		}
		f, err := os.Open(u.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, noFileError{shown + ": no such file"}
		}
		if err != nil {
			return nil, err
		}
		body = f
	case "http", "https":
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", shown, err)
		}
		client := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
			}
			return nil
		}}
		resp, err := client.Do(req)
		if err != nil {
			if ue := (*neturl.Error)(nil); errors.As(err, &ue) {
				err = ue.Err // its message would repeat the URL, password included
			}
			return nil, fmt.Errorf("GET %s: %w", shown, err)
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			return nil, noFileError{shown + ": HTTP " + resp.Status}
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("GET %s: HTTP %s", shown, resp.Status)
		}
		body = resp.Body
	default:
		return nil, fmt.Errorf("%s: unsupported URL scheme %q (want https, http or file)", shown, u.Scheme)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxSums+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", shown, err)
	}
	if len(data) > maxSums {
		return nil, fmt.Errorf("%s is larger than %d KB: not a Node mirror's SHASUMS256.txt", shown, maxSums>>10)
	}
	return data, nil
}
