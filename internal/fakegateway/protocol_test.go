package fakegateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

func TestConnect(t *testing.T) {
	f := startFake(t, "normal", "FAKE_GATEWAY_TICK_MS=1234")
	f.waitStarted(t)
	tests := []struct {
		name       string
		token      string
		device     bool
		wantCode   string // error code; "" means hello-ok
		wantDetail string
	}{
		{name: "right token", token: testToken},
		{name: "wrong token", token: "not-the-token", wantCode: "INVALID_REQUEST", wantDetail: "AUTH_TOKEN_MISMATCH"},
		{name: "device without token", device: true, wantCode: "INVALID_REQUEST", wantDetail: "AUTH_TOKEN_MISSING"},
		{name: "neither token nor device", wantCode: "NOT_PAIRED", wantDetail: "DEVICE_IDENTITY_REQUIRED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := dial(t, ctx, f)
			ch, _, err := readFrame(ctx, c)
			if err != nil || ch.Type != "event" || ch.Event != "connect.challenge" {
				t.Fatalf("first frame = %+v, %v; want the connect.challenge event", ch, err)
			}
			if err := writeJSON(ctx, c, connectReq(tt.token, tt.device)); err != nil {
				t.Fatal(err)
			}
			res, size, err := readFrame(ctx, c)
			if err != nil || res.Type != "res" || res.ID != "1" {
				t.Fatalf("connect reply = %+v, %v", res, err)
			}
			if tt.wantCode == "" {
				var hello struct {
					Type     string `json:"type"`
					Protocol int    `json:"protocol"`
					Server   struct{ Version string }
					Policy   struct{ TickIntervalMs int }
				}
				if err := json.Unmarshal(res.Payload, &hello); err != nil || !res.OK {
					t.Fatalf("connect: ok=%v err=%v error=%+v", res.OK, err, res.Error)
				}
				if hello.Type != "hello-ok" || hello.Protocol != 4 || hello.Server.Version == "" || hello.Policy.TickIntervalMs != 1234 {
					t.Errorf("hello = %+v; want hello-ok, protocol 4, a version, tickIntervalMs 1234", hello)
				}
				if size < 15000 || size > 32768 {
					t.Errorf("hello-ok is %d bytes; want about the real 15.5 KB", size)
				}
				return
			}
			if res.OK || res.Error == nil || res.Error.Code != tt.wantCode || res.Error.Details.Code != tt.wantDetail {
				t.Fatalf("connect reply = ok %v, error %+v; want %s/%s", res.OK, res.Error, tt.wantCode, tt.wantDetail)
			}
			_, _, err = readFrame(ctx, c)
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Errorf("after refusal: %v (status %d); want close 1008", err, got)
			}
		})
	}
	fgtest.WaitFor(t, 5*time.Second, "WS open and close log lines", func() bool {
		return strings.Count(f.Stdout.String(), "← open") == len(tests) && strings.Count(f.Stdout.String(), "→ close") == len(tests)
	})
}

// hello dials and completes a good connect, returning the open socket.
func hello(t *testing.T, ctx context.Context, f fake) *websocket.Conn {
	t.Helper()
	c := dial(t, ctx, f)
	if _, _, err := readFrame(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(ctx, c, connectReq(testToken, false)); err != nil {
		t.Fatal(err)
	}
	if res, _, err := readFrame(ctx, c); err != nil || !res.OK {
		t.Fatalf("connect = %+v, %v", res, err)
	}
	return c
}

func TestHealthAndTicks(t *testing.T) {
	f := startFake(t, "normal", "FAKE_GATEWAY_TICK_MS=50")
	f.waitStarted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := hello(t, ctx, f)
	if err := writeJSON(ctx, c, map[string]any{"type": "req", "id": "2", "method": "health", "params": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	var ticks int
	var health map[string]any
	for ticks < 3 || health == nil {
		fr, _, err := readFrame(ctx, c)
		if err != nil {
			t.Fatalf("after %d ticks: %v", ticks, err)
		}
		switch {
		case fr.Type == "event" && fr.Event == "tick":
			ticks++
		case fr.Type == "res" && fr.ID == "2":
			if !fr.OK || json.Unmarshal(fr.Payload, &health) != nil {
				t.Fatalf("health reply = %+v", fr)
			}
		}
	}
	for _, k := range []string{"ok", "durationMs", "channels", "agents", "heartbeatSeconds", "modelRuntime"} {
		if _, ok := health[k]; !ok {
			t.Errorf("health payload lacks %q: %v", k, health)
		}
	}
}

func TestSIGTERMClosesWith1012(t *testing.T) {
	f := startFake(t, "normal")
	f.waitStarted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := hello(t, ctx, f)
	if err := f.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var sawShutdown bool
	for {
		fr, _, err := readFrame(ctx, c)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusServiceRestart || ce.Reason != "service restart" {
				t.Fatalf("read: %v; want close 1012 \"service restart\"", err)
			}
			break
		}
		sawShutdown = sawShutdown || fr.Event == "shutdown"
	}
	if !sawShutdown {
		t.Error("no shutdown event before the close")
	}
	if code := f.WaitExit(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	pid := f.Cmd.Process.Pid
	ev := f.events(t)
	for _, want := range []string{"start pid=" + itoa(pid), "exit pid=" + itoa(pid) + " code=0"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events file lacks %q:\n%s", want, ev)
		}
	}
	if !strings.Contains(f.Stdout.String(), "completed cleanly") {
		t.Errorf("stdout lacks the clean shutdown line:\n%s", f.Stdout)
	}
}
