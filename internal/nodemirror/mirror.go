// Package nodemirror builds and serves a local Node.js download mirror with
// the official distribution layout (<mirror>/v<ver>/node-v<ver>-linux-<arch>.tar.xz
// plus SHASUMS256.txt), so that openclawd's Node download and checksum path
// can be tested on hosts that reach the npm registry but not the official
// Node.js download site.
//
// The tarball is assembled from two npm packages: node-linux-<arch> (the node
// binary, integrity-checked by npm) and npm (the CLI the official tarball
// bundles). Builds are cached, locked against parallel test packages, and
// published atomically.
package nodemirror

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/openclawd/openclawd/internal/fsutil"
)

// Mirror is a built mirror. Dir is the mirror root: serve it (or use it as a
// file tree) so that Dir/v<Version>/<file> exists for every key of Files.
type Mirror struct {
	Dir     string
	Version string
	Files   map[string]string // file name -> sha256 hex, as in SHASUMS256.txt
}

// stampName records what a cached build was made from, so a different npm
// version forces a rebuild. It is a dotfile next to SHASUMS256.txt.
const stampName = ".build-info"

// DefaultCacheDir returns $OPENCLAWD_TEST_CACHE, else
// $XDG_CACHE_HOME/openclawd-test, else ~/.cache/openclawd-test.
func DefaultCacheDir() string {
	if d := os.Getenv("OPENCLAWD_TEST_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "openclawd-test")
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".cache", "openclawd-test")
	}
	return filepath.Join(os.TempDir(), "openclawd-test")
}

// Arch maps a GOARCH to Node's name for it ("x64", "arm64").
func Arch(goarch string) (string, error) {
	switch goarch {
	case "amd64":
		return "x64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("nodemirror: no Node build for GOARCH %s", goarch)
}

// TarballName is the official file name of the Linux tarball.
func TarballName(version, arch string) string {
	return fmt.Sprintf("node-v%s-linux-%s.tar.xz", version, arch)
}

// Build returns a mirror for Node version (with npm npmVersion bundled) for
// the current linux/GOARCH under <cacheDir>/node-mirror, building it from the
// npm registry unless a verified cached build exists. log may be nil.
func Build(ctx context.Context, cacheDir, version, npmVersion string, log func(format string, args ...any)) (*Mirror, error) {
	if log == nil {
		log = func(string, ...any) {}
	}
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("nodemirror: only linux is supported (npm's node-%s-* packages are stale); GOOS is %s", runtime.GOOS, runtime.GOOS)
	}
	arch, err := Arch(runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	if err := checkTools(); err != nil {
		return nil, err
	}
	root := filepath.Join(cacheDir, "node-mirror")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("nodemirror: create cache dir: %w", err)
	}
	// Parallel test packages share the cache: one builds, the others wait
	// and then reuse its result.
	lock, err := fsutil.Acquire(ctx, filepath.Join(cacheDir, "node-mirror.lock"), nil)
	if err != nil {
		return nil, fmt.Errorf("nodemirror: lock cache: %w", err)
	}
	defer lock.Unlock()
	// Holding the lock, any temp dir left is from a killed build.
	old, _ := filepath.Glob(filepath.Join(root, ".build-*"))
	for _, d := range old {
		os.RemoveAll(d)
	}

	name := TarballName(version, arch)
	stamp := fmt.Sprintf("node %s\nnpm %s\narch %s\n", version, npmVersion, arch)
	verDir := filepath.Join(root, "v"+version)
	files, err := loadCached(verDir, name, stamp)
	if err == nil {
		log("nodemirror: reusing %s", filepath.Join(verDir, name))
		return &Mirror{Dir: root, Version: version, Files: files}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		log("nodemirror: cached build unusable, rebuilding: %v", err)
	}
	log("nodemirror: building Node %s (npm %s) for linux-%s from the npm registry", version, npmVersion, arch)
	if err := build(ctx, root, verDir, version, npmVersion, arch, stamp, log); err != nil {
		return nil, err
	}
	files, err = loadCached(verDir, name, stamp)
	if err != nil {
		return nil, fmt.Errorf("nodemirror: verify fresh build: %w", err)
	}
	return &Mirror{Dir: root, Version: version, Files: files}, nil
}

// loadCached checks that verDir holds a complete build matching stamp whose
// tarball hashes to the SHASUMS256.txt entry for name.
func loadCached(verDir, name, stamp string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(verDir, stampName))
	if err != nil {
		return nil, err
	}
	if string(b) != stamp {
		return nil, fmt.Errorf("built from %q, want %q", b, stamp)
	}
	f, err := os.Open(filepath.Join(verDir, "SHASUMS256.txt"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files, err := ParseShasums(f)
	if err != nil {
		return nil, fmt.Errorf("read SHASUMS256.txt: %w", err)
	}
	want, ok := files[name]
	if !ok {
		return nil, fmt.Errorf("SHASUMS256.txt has no entry for %s", name)
	}
	got, err := fileSHA256(filepath.Join(verDir, name))
	if err != nil {
		return nil, err
	}
	if got != want {
		return nil, fmt.Errorf("%s: sha256 %s, SHASUMS256.txt says %s", name, got, want)
	}
	return files, nil
}

// ParseShasums reads lines of the form "<sha256 hex>  <file name>".
func ParseShasums(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if b, err := hex.DecodeString(sum); !ok || err != nil || len(b) != sha256.Size || name == "" {
			return nil, fmt.Errorf("line %d: malformed %q", n, line)
		}
		out[strings.TrimPrefix(name, "*")] = strings.ToLower(sum)
	}
	return out, sc.Err()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Serve serves m.Dir over HTTP on 127.0.0.1, so that the returned URL can be
// used as a Node mirror base (url + "/v<ver>/SHASUMS256.txt"). closeFn stops
// the server and waits for its goroutine.
func Serve(m *Mirror) (url string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("nodemirror: listen: %w", err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(m.Dir))}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	closeFn = func() {
		_ = srv.Close()
		<-done
	}
	return "http://" + ln.Addr().String(), closeFn, nil
}
