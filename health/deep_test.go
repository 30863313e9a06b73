package health_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

func TestDeepHandshake(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		wantCode string // "" means hello-ok
	}{
		{name: "right token", token: testToken},
		{name: "wrong token", token: "wrong-token-wrong-token-wrong", wantCode: "AUTH_TOKEN_MISMATCH"},
		{name: "no token", token: "", wantCode: "DEVICE_IDENTITY_REQUIRED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, "FAKE_GATEWAY_TICK_MS=100")
			c := checker(t, f.Port, func(o *health.Options) {
				o.Deep, o.Token = true, func() string { return tt.token }
				// Timeout above the ~260ms the gateway takes to refuse a wrong token.
				o.Interval, o.Timeout, o.DeepInterval = 50*time.Millisecond, time.Second, 2*time.Second
			})
			if err := c.Started(context.Background()); err != nil {
				t.Fatal(err)
			}
			hung := watch(t, c)
			if tt.wantCode == "" {
				fgtest.WaitFor(t, 10*time.Second, "hello-ok, 3 ticks and a health reply", func() bool {
					s := c.Snapshot()
					return s.Deep.HelloOK && !s.Deep.LastHealth.IsZero() && strings.Count(f.Stdout.String(), "connected conn=") == 1 &&
						!s.Deep.LastTick.IsZero() && time.Since(s.Deep.LastTick) < time.Second && s.Passes >= 3
				})
				start := c.Snapshot().Deep.LastTick
				fgtest.WaitFor(t, 10*time.Second, "later ticks", func() bool { return c.Snapshot().Deep.LastTick.Sub(start) >= 200*time.Millisecond })
				return
			}
			fgtest.WaitFor(t, 10*time.Second, "the refusal code", func() bool { return c.Snapshot().Deep.Code == tt.wantCode })
			s := c.Snapshot()
			if s.Deep.HelloOK || !strings.Contains(s.Deep.Error, tt.wantCode) {
				t.Errorf("Deep = %+v; want no hello and an error naming %s", s.Deep, tt.wantCode)
			}
			// A refusal is not a hang and must not reconnect in a loop: over
			// ~20 /healthz periods (1s) at most the first try and one retry.
			opens := f.wsOpens()
			target := s.Passes + 20
			fgtest.WaitFor(t, 10*time.Second, "20 more /healthz checks", func() bool { return c.Snapshot().Passes >= target })
			if n := f.wsOpens(); n > opens+1 {
				t.Errorf("%d WebSocket connects during ~1s after a refusal, want at most 1 (DeepInterval 2s)", n-opens)
			}
			select {
			case r := <-hung:
				t.Fatalf("hung(%q) after an auth refusal", r)
			default:
			}
		})
	}
}

func TestDeepDetectsMissingTicks(t *testing.T) {
	f := startFake(t, "FAKE_GATEWAY_TICK_MS=100")
	c := checker(t, f.Port, func(o *health.Options) {
		o.Deep, o.Interval, o.Failures = true, time.Hour, 2 // /healthz runs once: only the socket can find the hang
	})
	if err := c.Started(context.Background()); err != nil {
		t.Fatal(err)
	}
	hung := watch(t, c)
	fgtest.WaitFor(t, 10*time.Second, "hello-ok and a tick", func() bool {
		s := c.Snapshot()
		return s.Deep.HelloOK && !s.Deep.LastTick.IsZero()
	})
	f.cue(t, "hang")
	select {
	case r := <-hung:
		if !strings.Contains(r, "websocket probe failed 2 consecutive checks") || !strings.Contains(r, "no tick event") {
			t.Errorf("hung reason %q; want the WebSocket tick failure", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("hung not called; status %+v", c.Snapshot())
	}
}

// TestDeepRestartIsNotAHang restarts the fake in place (SIGUSR2 without a
// supervisor marker): the socket closes with 1012 and the probe reconnects.
func TestDeepRestartIsNotAHang(t *testing.T) {
	f := startFake(t, "FAKE_GATEWAY_TICK_MS=100", "OPENCLAW_NO_RESPAWN=1")
	c := checker(t, f.Port, func(o *health.Options) { o.Deep = true })
	if err := c.Started(context.Background()); err != nil {
		t.Fatal(err)
	}
	hung := watch(t, c)
	fgtest.WaitFor(t, 10*time.Second, "hello-ok", func() bool { return c.Snapshot().Deep.HelloOK })
	if err := f.Cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	fgtest.WaitFor(t, 10*time.Second, "a second hello-ok after the restart", func() bool {
		return strings.Count(f.Stdout.String(), "connected conn=") >= 2 && c.Snapshot().Deep.HelloOK
	})
	if !strings.Contains(f.Stdout.String(), "code=1012") {
		t.Errorf("the fake did not log a 1012 close:\n%s", f.Stdout)
	}
	select {
	case r := <-hung:
		t.Fatalf("hung(%q) across an in-place restart", r)
	default:
	}
	if s := c.Snapshot(); s.ConsecutiveFailures != 0 {
		t.Errorf("Snapshot() = %+v; want no failures from a 1012 close", s)
	}
}

// TestNewProcessAfterHang checks that nothing of a hung process carries over
// to the next one on the same port: the supervisor only calls Started and
// Watch again.
func TestNewProcessAfterHang(t *testing.T) {
	f := startFake(t, "FAKE_GATEWAY_TICK_MS=100")
	// /healthz runs once per Watch, so the socket's streak alone reaches
	// Failures and would trip the next Watch at its first check.
	c := checker(t, f.Port, func(o *health.Options) { o.Deep, o.Interval, o.Failures = true, time.Hour, 2 })
	for i := range 2 {
		if err := c.Started(context.Background()); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		hung := make(chan string, 1)
		done := make(chan struct{})
		go func() { defer close(done); c.Watch(ctx, func(r string) { hung <- r }) }()
		fgtest.WaitFor(t, 10*time.Second, "a pass, hello-ok and a tick", func() bool {
			s := c.Snapshot()
			return s.Passes >= 1 && s.Deep.HelloOK && !s.Deep.LastTick.IsZero()
		})
		select {
		case r := <-hung:
			t.Fatalf("process %d: hung(%q) for a healthy gateway", i, r)
		default:
		}
		f.cue(t, "hang")
		select {
		case <-hung:
		case <-time.After(20 * time.Second):
			t.Fatalf("process %d: hang not detected", i)
		}
		cancel() // as the supervisor does, without waiting for Watch
		_ = f.Cmd.Process.Kill()
		<-f.Done
		f = startFakeOn(t, f.Port, "FAKE_GATEWAY_TICK_MS=100")
		<-done
	}
}
