package health_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/sockets"
)

// squatted is what supervisor.VerifyListener returns for a squatter.
var squatted = &sockets.ForeignListenerError{Port: 1, Foreign: []sockets.Foreign{{
	Addr: netip.MustParseAddrPort("127.0.0.1:1"), UID: 65533, Inode: 9,
	Holders: []sockets.Holder{{PID: 4242, Command: "squatter"}},
}}}

func TestListenerHook(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, f fake, c *health.Checker)
	}{
		{"Started refuses a foreign answer at once", func(t *testing.T, f fake, c *health.Checker) {
			t0 := time.Now()
			err := c.Started(context.Background())
			if !errors.Is(err, sockets.ErrForeignListener) || !strings.Contains(err.Error(), "pid 4242 (squatter)") {
				t.Fatalf("Started = %v, want the squatter named", err)
			}
			if d := time.Since(t0); d > 10*time.Second {
				t.Errorf("Started took %s; a squatter should end it at once", d)
			}
			if c.Snapshot().Started {
				t.Error("status says started")
			}
		}},
		{"no token and no pass while the listener is foreign", func(t *testing.T, f fake, c *health.Checker) {
			select {
			case reason := <-watch(t, c):
				if !strings.Contains(reason, "pid 4242 (squatter)") {
					t.Errorf("hung reason %q does not name the squatter", reason)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no hung report")
			}
			if st := c.Snapshot(); st.Live || st.Deep.HelloOK {
				t.Errorf("status %+v: live or connected with a foreign listener", st)
			}
			if strings.Contains(f.Stdout.String(), "connect frame") {
				t.Errorf("a connect frame reached the listener:\n%s", f.Stdout)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, "FAKE_GATEWAY_LOG_CONNECT=1", "FAKE_GATEWAY_TICK_MS=100")
			c := checker(t, f.Port, func(o *health.Options) {
				o.Deep = true
				o.Listener = func() error { return squatted }
			})
			tc.run(t, f, c)
		})
	}
}

// TestListenerHookPasses: with the gateway's own listener everything works
// as without the hook, the token included.
func TestListenerHookPasses(t *testing.T) {
	f := startFake(t, "FAKE_GATEWAY_LOG_CONNECT=1", "FAKE_GATEWAY_TICK_MS=100")
	var calls atomic.Int32
	c := checker(t, f.Port, func(o *health.Options) {
		o.Deep = true
		o.Listener = func() error { calls.Add(1); return nil }
	})
	if err := c.Started(context.Background()); err != nil {
		t.Fatal(err)
	}
	watch(t, c)
	deadline := time.Now().Add(20 * time.Second)
	for st := c.Snapshot(); !(st.Live && st.Deep.HelloOK); st = c.Snapshot() {
		if time.Now().After(deadline) {
			t.Fatalf("not live and connected: %+v", st)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a condition wait
	}
	if calls.Load() == 0 {
		t.Error("the Listener hook was never called")
	}
	if !strings.Contains(f.Stdout.String(), "token="+testToken) {
		t.Errorf("the gateway got no token:\n%s", f.Stdout)
	}
}
