// Package s3test runs a real S3 server on loopback for tests: versitygw's
// posix backend over a temporary directory, built once from the Go module
// proxy into the test cache and reused.
//
// A real server, not a fake, because what backups need from S3 is its
// failure behaviour (refused credentials, a missing bucket, a full disk) as
// a client library actually sees it.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/internal/nodemirror"
)

// Version is the versitygw release the server is built from.
const Version = "v1.8.0"

// Region is the region the server answers for.
const Region = "us-east-1"

// Server is a running versitygw. Endpoint is http://127.0.0.1:<port>;
// Bucket exists and is empty; Root is the posix directory it serves.
type Server struct {
	Endpoint, AccessKey, SecretKey, Bucket string
	Root                                   string
}

type config struct {
	fsSize int64
}

// Option changes how Start runs the server.
type Option func(*config)

// WithFilesystemSize puts the server's storage on a tmpfs of the given size,
// so a test can fill it. It needs root (to mount); without that the test is
// skipped, with the reason.
func WithFilesystemSize(bytes int64) Option {
	return func(c *config) { c.fsSize = bytes }
}

// startTimeout bounds how long a fresh server may take to accept requests.
const startTimeout = 30 * time.Second

// Start builds (once) and starts versitygw on 127.0.0.1 with a free port,
// random credentials and a fresh bucket; tb.Cleanup stops it.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin := Binary(tb)

	root := filepath.Join(tb.TempDir(), "gw")
	if err := os.Mkdir(root, 0o700); err != nil {
		tb.Fatal(err)
	}
	if cfg.fsSize > 0 {
		mountSmall(tb, root, cfg.fsSize)
	}
	s := &Server{
		AccessKey: "test" + randHex(tb, 8),
		SecretKey: randHex(tb, 20),
		Bucket:    "backups-" + randHex(tb, 4),
		Root:      root,
	}
	// The port is picked by binding :0 and closing it, so another process
	// can take it before versitygw does: that shows as an early exit, and
	// a few tries with fresh ports get past it.
	var lastErr error
	for range 3 {
		err := s.launch(tb, bin)
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	tb.Fatalf("s3test: %v", lastErr)
	return nil
}

var errExitedEarly = errors.New("versitygw exited before it was ready")

func (s *Server) launch(tb testing.TB, bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--port", addr, "--region", Region, "--quiet", "posix", s.Root)
	// Credentials through the environment, not argv, like the real thing.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	s.Endpoint = "http://" + addr
	if err := s.waitReady(exited); err != nil {
		stop()
		return fmt.Errorf("%w\nversitygw output:\n%s", err, out.String())
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() {
			tb.Logf("s3test: versitygw output:\n%s", out.String())
		}
	})
	return nil
}

// waitReady polls until the bucket is created: that proves the server
// listens, accepts the credentials and can write its root.
func (s *Server) waitReady(exited <-chan struct{}) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: Region})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errExitedEarly
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw at %s not ready after %v: %w", s.Endpoint, startTimeout, err)
		}
	}
}

// Client returns a minio client for the server, with its credentials and
// no retries, for tests that set up or inspect buckets directly.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       false,
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
}

// Binary returns the path of the cached versitygw binary, building it
// first if needed: a temporary module whose only requirement is
// versitygw@Version, fetched through the Go module proxy. The cache is
// $OPENCLAWD_TEST_CACHE or the user cache's openclawd-test; a lock keeps
// parallel test packages from building it twice.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := build(context.Background(), nodemirror.DefaultCacheDir(), tb.Logf)
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	return bin
}

func build(ctx context.Context, cache string, logf func(string, ...any)) (string, error) {
	dir := filepath.Join(cache, "versitygw-"+Version)
	bin := filepath.Join(dir, "versitygw")
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	lock, err := fsutil.Acquire(ctx, filepath.Join(cache, "versitygw.lock"), func(pid int) {
		logf("s3test: waiting for process %d to finish building versitygw", pid)
	})
	if err != nil {
		return "", fmt.Errorf("lock cache: %w", err)
	}
	defer lock.Unlock()
	// Another package may have built it while this one waited.
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// Holding the lock, any build dir left is from a killed build.
	old, _ := filepath.Glob(filepath.Join(dir, ".build-*"))
	for _, d := range old {
		os.RemoveAll(d)
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	logf("s3test: building versitygw %s into %s (once; takes a few minutes)", Version, bin)
	start := time.Now()
	gomod := "module vgwbuild\n\ngo 1.26.8\n"
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"get", "github.com/versity/versitygw@" + Version},
		{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tmp, "versitygw"), "github.com/versity/versitygw/cmd/versitygw"},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", err
	}
	logf("s3test: built versitygw in %v", time.Since(start).Round(time.Second))
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// syncBuffer collects the server's output; the process writes it from
// another goroutine while a failing test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// UnusedEndpoint returns http://127.0.0.1:<port> for a port that was just
// bound and closed, so nothing listens there: an unreachable endpoint.
func UnusedEndpoint(tb testing.TB) string {
	tb.Helper()
	p, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", p)
}
