package health_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

const testToken = fgtest.Token

func TestMain(m *testing.M) { os.Exit(fgtest.Main(m)) }

// fake is a running fake gateway.
type fake struct{ *fgtest.Process }

// startFake runs the fake gateway on a free port (startup delay 50ms, no
// colour); env entries override. It is killed at cleanup.
func startFake(tb testing.TB, env ...string) fake {
	tb.Helper()
	return startFakeOn(tb, 0, env...)
}

// startFakeOn is startFake on a given port, e.g. for a second process.
func startFakeOn(tb testing.TB, port int, env ...string) fake {
	tb.Helper()
	return fake{fgtest.Start(tb, fgtest.Binary(tb), port, append([]string{"NO_COLOR=1"}, env...)...)}
}

// cue posts a fake control request, e.g. "hang".
func (f fake) cue(tb testing.TB, what string) {
	tb.Helper()
	if code := f.Cue(tb, "/__fake/"+what); code/100 != 2 {
		tb.Fatalf("cue %s: status %d", what, code)
	}
}

// wsOpens counts WebSocket connections the fake has logged.
func (f fake) wsOpens() int { return strings.Count(f.Stdout.String(), "← open") }

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
