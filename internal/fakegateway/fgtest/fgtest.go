// Package fgtest runs the fake gateway in tests.
package fgtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway"
)

// Token is the gateway token Start gives the fake unless env overrides it.
const Token = "fake-test-token-0123456789abcdef"

var bin string // built by Main

// Main builds the fake gateway into a temporary directory, runs the tests
// and returns their exit code; call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(fgtest.Main(m)) }
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fakegateway-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err = fakegateway.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Binary returns the fake gateway built by Main.
func Binary(tb testing.TB) string {
	tb.Helper()
	if bin == "" {
		tb.Fatal("fgtest: no fake gateway binary; TestMain must call fgtest.Main")
	}
	return bin
}

// SyncBuffer collects a child's output while tests read it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Process is one running fake gateway.
type Process struct {
	Cmd            *exec.Cmd
	Port           int
	Dir            string // a temporary directory; FAKE_GATEWAY_EVENTS is Dir/events
	Token          string // the OPENCLAW_GATEWAY_TOKEN the process got
	Stdout, Stderr *SyncBuffer
	Done           chan struct{} // closed once the process is reaped
}

// Start runs bin as `gateway run --port port --bind loopback` (port 0: a
// free one) with a 50ms startup delay and Token; env entries override the
// defaults. The process is killed with SIGKILL at cleanup (a hung fake
// ignores SIGTERM) and its output logged if the test failed.
func Start(tb testing.TB, bin string, port int, env ...string) *Process {
	tb.Helper()
	if port == 0 {
		var err error
		if port, err = fakegateway.FreePort(); err != nil {
			tb.Fatal(err)
		}
	}
	p := &Process{Port: port, Dir: tb.TempDir(), Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{}, Done: make(chan struct{})}
	p.Cmd = exec.Command(bin, "gateway", "run", "--port", strconv.Itoa(port), "--bind", "loopback")
	p.Cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"OPENCLAW_GATEWAY_TOKEN=" + Token,
		"FAKE_GATEWAY_STARTUP_MS=50",
		"FAKE_GATEWAY_EVENTS=" + filepath.Join(p.Dir, "events"),
	}, env...)
	for _, kv := range p.Cmd.Env { // the last one counts, as for exec
		if v, ok := strings.CutPrefix(kv, "OPENCLAW_GATEWAY_TOKEN="); ok {
			p.Token = v
		}
	}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	if err := p.Cmd.Start(); err != nil {
		tb.Fatalf("starting fake gateway: %v", err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.Done) }()
	tb.Cleanup(func() {
		_ = p.Cmd.Process.Kill()
		<-p.Done
		if tb.Failed() {
			tb.Logf("fake stdout:\n%s\nfake stderr:\n%s", p.Stdout, p.Stderr)
		}
	})
	return p
}

// URL returns the fake's http URL for path.
func (p *Process) URL(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", p.Port, path) }

// Cue posts a fake control request, e.g. "/__fake/hang", with the gateway
// token and returns the status code.
func (p *Process) Cue(tb testing.TB, path string) int {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL(path), nil)
	req.Header.Set("X-Fake-Token", p.Token)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// WaitExit waits up to d for the process to end and returns its exit code.
func (p *Process) WaitExit(tb testing.TB, d time.Duration) int {
	tb.Helper()
	select {
	case <-p.Done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		tb.Fatalf("fake gateway still running after %s", d)
		return -1
	}
}

// WaitFor polls cond every 10ms until it holds, failing the test if d
// passes first.
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}
