package health_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fakegateway"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

// The supervisor's Prober interface, which Checker must satisfy.
var _ interface {
	Started(ctx context.Context) error
	Watch(ctx context.Context, hung func(reason string))
} = (*health.Checker)(nil)

func TestValidate(t *testing.T) {
	token := func() string { return "t" }
	tests := []struct {
		name    string
		opts    health.Options
		wantErr []string
	}{
		{name: "defaults", opts: health.Options{Port: 18789, Token: token}},
		{name: "no port or token", opts: health.Options{}, wantErr: []string{"port 0", "no Token"}},
		{name: "negative", opts: health.Options{Port: 1, Token: token, Interval: -time.Second, Failures: -1},
			wantErr: []string{"Interval is negative", "Failures must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := health.New(tt.opts).Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestStarted(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		timeout   time.Duration
		wantErr   error
		wantInErr string
	}{
		{name: "after the startup delay", env: []string{"FAKE_GATEWAY_STARTUP_MS=400"}, timeout: 20 * time.Second},
		{name: "never started", env: []string{"FAKE_GATEWAY_STARTUP_MS=600000"}, timeout: 500 * time.Millisecond,
			wantErr: health.ErrNotStarted, wantInErr: `503 {"status":"starting"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tt.env...)
			c := checker(t, f.Port, func(o *health.Options) { o.StartupTimeout = tt.timeout })
			start := time.Now()
			err := c.Started(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Started() = %v", err)
				}
				if s := c.Snapshot(); !s.Started || s.Version != fakegateway.Version {
					t.Errorf("Snapshot() = %+v; want Started and version %s", s, fakegateway.Version)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Started() = %v; want %v mentioning %s", err, tt.wantErr, tt.wantInErr)
			}
			if el := time.Since(start); el < tt.timeout {
				t.Errorf("Started gave up after %s, before its %s timeout", el, tt.timeout)
			}
		})
	}

	t.Run("caller's context ends first", func(t *testing.T) {
		port, err := fakegateway.FreePort() // nothing listens there
		if err != nil {
			t.Fatal(err)
		}
		c := checker(t, port, nil) // StartupTimeout 20s
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err = c.Started(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, health.ErrNotStarted) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("Started() = %v; want the context's error with the refused connection", err)
		}
	})
}

func TestWatch(t *testing.T) {
	tests := []struct {
		name       string
		deep       bool
		hang       bool
		wantReason string
	}{
		{name: "healthy", deep: false},
		{name: "healthy with deep probe", deep: true},
		{name: "hang", hang: true, wantReason: "no answer from /healthz in 3 consecutive checks (timeout 200ms); last error: context deadline exceeded"},
		{name: "hang with deep probe", deep: true, hang: true, wantReason: "consecutive"}, // either kind may complete the streak
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, "FAKE_GATEWAY_TICK_MS=100")
			c := checker(t, f.Port, func(o *health.Options) { o.Deep = tt.deep })
			if err := c.Started(context.Background()); err != nil {
				t.Fatal(err)
			}
			hung := watch(t, c)
			fgtest.WaitFor(t, 10*time.Second, "5 passed /healthz checks", func() bool {
				s := c.Snapshot()
				return s.Passes >= 5 && (!tt.deep || s.Deep.HelloOK)
			})
			if !tt.hang {
				select {
				case r := <-hung:
					t.Fatalf("hung(%q) called for a healthy gateway", r)
				default:
				}
				if s := c.Snapshot(); !s.Live || s.ConsecutiveFailures != 0 || s.LastError != "" {
					t.Errorf("Snapshot() = %+v; want live with no failures", s)
				}
				return
			}
			f.cue(t, "hang")
			cued := time.Now()
			select {
			case r := <-hung:
				if !strings.Contains(r, tt.wantReason) {
					t.Errorf("hung reason %q; want it to contain %q", r, tt.wantReason)
				}
				t.Logf("hang detected after %s: %s", time.Since(cued).Round(time.Millisecond), r)
			case <-time.After(20 * time.Second):
				t.Fatalf("hung not called within 20s of the hang; status %+v", c.Snapshot())
			}
			if s := c.Snapshot(); s.Live || s.ConsecutiveFailures < 3 {
				t.Errorf("Snapshot() after hang = %+v; want not live, 3+ failures", s)
			}
		})
	}
}

func TestReset(t *testing.T) {
	f := startFake(t)
	c := checker(t, f.Port, nil)
	if err := c.Started(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	if s := c.Snapshot(); s != (health.Status{}) {
		t.Errorf("Snapshot() after Reset = %+v; want the zero Status", s)
	}
}
