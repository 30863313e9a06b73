package fakegateway_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

func itoa(n int) string { return strconv.Itoa(n) }

func TestHTTPProbes(t *testing.T) {
	f := startFake(t, "normal", "FAKE_GATEWAY_STARTUP_MS=3000")
	fgtest.WaitFor(t, 10*time.Second, "/healthz to answer", func() bool {
		code, _, err := get(f.URL("/healthz"), time.Second)
		return err == nil && code == http.StatusOK
	})
	if code, body, err := get(f.URL("/startupz"), time.Second); err != nil || code != 503 || !strings.Contains(body, `"starting"`) {
		t.Errorf("/startupz while starting = %d %q %v; want 503 starting", code, body, err)
	}
	f.waitStarted(t)
	tests := []struct {
		name, path string
		header     string // an X-Forwarded-For value, if any
		wantCode   int
		wantBody   string
	}{
		{name: "healthz", path: "/healthz", wantCode: 200, wantBody: `{"ok":true,"status":"live"}`},
		{name: "health alias", path: "/health", wantCode: 200, wantBody: `"live"`},
		{name: "startupz", path: "/startupz", wantCode: 200, wantBody: `"version":"2026.9.6-fake"`},
		{name: "startup alias", path: "/startup", wantCode: 200, wantBody: `"uptimeMs"`},
		{name: "readyz", path: "/readyz", wantCode: 200, wantBody: `"ready":true`},
		{name: "ready alias", path: "/ready", wantCode: 200, wantBody: `"failing":[]`},
		{name: "healthz ignores proxy headers", path: "/healthz", header: "203.0.113.9", wantCode: 200},
		{name: "readyz refuses proxy headers", path: "/readyz", header: "203.0.113.9", wantCode: 403, wantBody: "proxy_attribution_required"},
		{name: "control UI", path: "/chat", wantCode: 200, wantBody: "OpenClaw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.URL(tt.path), nil)
			if tt.header != "" {
				req.Header.Set("X-Forwarded-For", tt.header)
			}
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			if resp.StatusCode != tt.wantCode || !strings.Contains(b.String(), tt.wantBody) {
				t.Errorf("GET %s = %d %q; want %d containing %q", tt.path, resp.StatusCode, b.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
	if out := f.Stdout.String(); strings.Contains(out, "healthz") || !strings.Contains(out, "\x1b[") {
		t.Errorf("stdout should be coloured and carry no probe lines:\n%q", out)
	}
}

func TestStartModes(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		env        []string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{name: "exit78", mode: "exit78", wantCode: 78, wantStderr: `<root>: Unrecognized key: "bogus"`},
		{name: "missing token", mode: "normal", env: []string{"OPENCLAW_GATEWAY_TOKEN="}, wantCode: 78, wantStderr: "OPENCLAW_GATEWAY_TOKEN"},
		{name: "unknown mode", mode: "sideways", wantCode: 2, wantStderr: `unknown mode "sideways"`},
		{name: "crash", mode: "crash", wantCode: 1, wantStdout: "ready in"},
		{name: "restart at start", mode: "restart-at-start", wantCode: 0, wantStdout: "full process restart (supervisor restart)"},
		{name: "cue restart, external", mode: "normal", env: []string{"OPENCLAW_SUPERVISOR_MODE=external"}, wantCode: 0, wantStdout: "full process restart"},
		{name: "cue restart, systemd markers", mode: "normal", env: []string{"INVOCATION_ID=abc"}, wantCode: 0, wantStdout: "full process restart"},
		{name: "cue exit", mode: "normal", env: []string{"NO_COLOR=1"}, wantCode: 3, wantStdout: "Z [gateway] ready in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tt.mode, tt.env...)
			switch {
			case strings.HasPrefix(tt.name, "cue restart"):
				f.waitStarted(t)
				f.Cue(t, "/__fake/restart")
			case tt.name == "cue exit":
				f.waitStarted(t)
				f.Cue(t, "/__fake/exit?code=3")
			}
			if code := f.WaitExit(t, 20*time.Second); code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(f.Stderr.String(), tt.wantStderr) || !strings.Contains(f.Stdout.String(), tt.wantStdout) {
				t.Errorf("want stderr containing %q and stdout containing %q", tt.wantStderr, tt.wantStdout)
			}
			if ev, want := f.events(t), "code="+itoa(tt.wantCode)+"\n"; !strings.HasSuffix(ev, want) {
				t.Errorf("events = %q; want it to end with %q", ev, want)
			}
		})
	}
}

func TestInProcessRestart(t *testing.T) {
	f := startFake(t, "normal", "OPENCLAW_NO_RESPAWN=1", "INVOCATION_ID=abc")
	f.waitStarted(t)
	if err := f.Cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	fgtest.WaitFor(t, 10*time.Second, "the in-process restart line", func() bool {
		return strings.Contains(f.Stdout.String(), "in-process restart (same pid")
	})
	f.waitStarted(t)
}

func TestIgnoreTermAndBindAny(t *testing.T) {
	f := startFake(t, "ignore-term")
	f.waitStarted(t)
	_ = f.Cmd.Process.Signal(syscall.SIGTERM)
	fgtest.WaitFor(t, 10*time.Second, "the ignoring-SIGTERM line", func() bool {
		return strings.Contains(f.Stdout.String(), "ignoring it")
	})
	if code, _, err := get(f.URL("/healthz"), 5*time.Second); err != nil || code != 200 {
		t.Errorf("/healthz after an ignored SIGTERM = %d, %v", code, err)
	}

	g := startFake(t, "bind-any")
	g.waitStarted(t)
	if !strings.Contains(g.Stdout.String(), "listening on ws://0.0.0.0:") {
		t.Errorf("bind-any stdout lacks the 0.0.0.0 listener:\n%s", g.Stdout)
	}
}

func TestHangCue(t *testing.T) {
	f := startFake(t, "normal")
	f.waitStarted(t)
	req, _ := http.NewRequest(http.MethodPost, f.URL("/__fake/hang"), nil)
	req.Header.Set("X-Fake-Token", "wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("cue with a wrong token = %v, %v; want 401", resp, err)
	}
	if code := f.Cue(t, "/__fake/hang"); code != http.StatusOK {
		t.Fatalf("hang cue = %d", code)
	}
	_, _, err := get(f.URL("/healthz"), 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("/healthz after hang: %v; want a timeout", err)
	}
	conn, err := net.DialTimeout("tcp", f.URL("")[len("http://"):], 2*time.Second)
	if err != nil {
		t.Fatalf("port no longer accepts after hang: %v", err)
	}
	conn.Close()
	select {
	case <-f.Done:
		t.Fatal("hung fake exited")
	default:
	}
}

func TestFloodAndEnvDump(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "env.json")
	f := startFake(t, "normal", "FAKE_GATEWAY_ENV_DUMP="+dump, "MARKER_FOR_TEST=42")
	f.waitStarted(t)
	env, err := fakegateway.ReadEnvDump(dump)
	if err != nil || env["MARKER_FOR_TEST"] != "42" {
		t.Errorf("env dump = %v, %v; want MARKER_FOR_TEST=42", env, err)
	}
	tests := []struct{ name, query, stream, want string }{
		{name: "same on stdout", query: "rate=300&seconds=1&kind=same", stream: "stdout", want: "getUpdates failed (attempt 100)"},
		{name: "varied on stderr", query: "rate=300&seconds=1&kind=varied&stream=stderr", stream: "stderr", want: " id="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := f.Cue(t, "/__fake/flood?"+tt.query); code != http.StatusAccepted {
				t.Fatalf("flood cue = %d", code)
			}
			buf := f.Stdout
			if tt.stream == "stderr" {
				buf = f.Stderr
			}
			fgtest.WaitFor(t, 10*time.Second, "300 flood lines", func() bool {
				return strings.Contains(buf.String(), tt.want) && strings.Count(buf.String(), "\n") >= 300
			})
		})
	}
	_ = os.Remove(dump)
}
