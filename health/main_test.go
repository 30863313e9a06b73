package health_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fakegateway"
)

const testToken = "health-test-token-0123456789abcdef"

var fakeBin string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "health-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	fakeBin, err = fakegateway.Build(ctx, dir)
	cancel()
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

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

// fake is a running fake gateway.
type fake struct {
	cmd    *exec.Cmd
	port   int
	stdout *syncBuffer
	done   chan struct{}
}

// startFake runs the fake gateway on a free port (startup delay 50ms, no
// colour); env entries override. It is killed at cleanup.
func startFake(tb testing.TB, env ...string) *fake {
	tb.Helper()
	port, err := fakegateway.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return startFakeOn(tb, port, env...)
}

// startFakeOn is startFake on a given port, e.g. for a second process.
func startFakeOn(tb testing.TB, port int, env ...string) *fake {
	tb.Helper()
	f := &fake{port: port, stdout: &syncBuffer{}, done: make(chan struct{})}
	f.cmd = exec.Command(fakeBin, "gateway", "run", "--port", strconv.Itoa(port), "--bind", "loopback")
	f.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "NO_COLOR=1",
		"OPENCLAW_GATEWAY_TOKEN=" + testToken, "FAKE_GATEWAY_STARTUP_MS=50",
	}, env...)
	f.cmd.Stdout, f.cmd.Stderr = f.stdout, f.stdout
	if err := f.cmd.Start(); err != nil {
		tb.Fatalf("starting fake gateway: %v", err)
	}
	go func() { _ = f.cmd.Wait(); close(f.done) }()
	tb.Cleanup(func() {
		_ = f.cmd.Process.Kill() // SIGKILL: a hung fake ignores SIGTERM
		<-f.done
		if tb.Failed() {
			tb.Logf("fake gateway output:\n%s", f.stdout)
		}
	})
	return f
}

// cue posts a fake control request, e.g. "hang".
func (f *fake) cue(tb testing.TB, what string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/__fake/%s", f.port, what), nil)
	req.Header.Set("X-Fake-Token", testToken)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		tb.Fatalf("cue %s: %v", what, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("cue %s: status %d", what, resp.StatusCode)
	}
}

// wsOpens counts WebSocket connections the fake has logged.
func (f *fake) wsOpens() int { return strings.Count(f.stdout.String(), "← open") }

// checker returns a Checker for f's port with fast test settings; mod may
// change them.
func checker(tb testing.TB, port int, mod func(*health.Options)) *health.Checker {
	tb.Helper()
	o := health.DefaultOptions()
	o.Port = port
	o.Token = func() string { return testToken }
	o.StartupTimeout, o.StartupInterval = 20*time.Second, 20*time.Millisecond
	o.Interval, o.Timeout, o.Failures = 100*time.Millisecond, 200*time.Millisecond, 3
	o.Deep, o.DeepInterval = false, time.Second
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&o)
	}
	c := health.New(o)
	if err := c.Validate(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// watch runs c.Watch in the background; the returned channel gets the hung
// reason, and Watch is stopped and waited for at cleanup.
func watch(tb testing.TB, c *health.Checker) <-chan string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hung := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Watch(ctx, func(reason string) { hung <- reason })
	}()
	tb.Cleanup(func() { cancel(); <-done })
	return hung
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
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
