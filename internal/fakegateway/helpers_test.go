package fakegateway_test

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/coder/websocket"
	"github.com/openclawd/openclawd/internal/fakegateway"
)

const testToken = "fake-test-token-0123456789abcdef"

var fakeBin string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakegateway-test-")
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

// syncBuffer collects a child's output while tests read it.
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

// fake is one running fake gateway process.
type fake struct {
	cmd            *exec.Cmd
	port           int
	dir            string
	stdout, stderr *syncBuffer
	done           chan struct{} // closed once the process is reaped
}

// startFake runs the fake in mode on a free port with a 50ms startup delay;
// env entries override the defaults. The process is killed at cleanup.
func startFake(t testing.TB, mode string, env ...string) *fake {
	t.Helper()
	port, err := fakegateway.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{port: port, dir: t.TempDir(), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	modeFile := filepath.Join(f.dir, "mode")
	if err := os.WriteFile(modeFile, []byte(mode+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cmd = exec.Command(fakeBin, "gateway", "run", "--port", strconv.Itoa(port), "--bind", "loopback")
	f.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"OPENCLAW_GATEWAY_TOKEN=" + testToken,
		"FAKE_GATEWAY_STARTUP_MS=50",
		"FAKE_GATEWAY_MODE_FILE=" + modeFile,
		"FAKE_GATEWAY_EVENTS=" + filepath.Join(f.dir, "events"),
	}, env...)
	f.cmd.Stdout, f.cmd.Stderr = f.stdout, f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("starting fake gateway: %v", err)
	}
	go func() { _ = f.cmd.Wait(); close(f.done) }()
	t.Cleanup(func() {
		_ = f.cmd.Process.Kill()
		<-f.done
		if t.Failed() {
			t.Logf("fake stdout:\n%s\nfake stderr:\n%s", f.stdout, f.stderr)
		}
	})
	return f
}

func (f *fake) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", f.port, path) }

// waitExit waits for the process to end and returns its exit code.
func (f *fake) waitExit(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-f.done:
		return f.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("fake gateway still running after %s", d)
		return -1
	}
}

func (f *fake) events(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitStarted waits until /startupz says started.
func (f *fake) waitStarted(t testing.TB) {
	t.Helper()
	waitFor(t, 20*time.Second, "/startupz started", func() bool {
		code, body, err := get(f.url("/startupz"), time.Second)
		return err == nil && code == http.StatusOK && strings.Contains(body, `"started"`)
	})
}

// cue posts a fake control request with the gateway token.
func (f *fake) cue(t testing.TB, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.url(path), nil)
	req.Header.Set("X-Fake-Token", testToken)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

func get(url string, timeout time.Duration) (int, string, error) {
	resp, err := (&http.Client{Timeout: timeout}).Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), err
}

// wireFrame is the protocol v4 envelope as a client reads it.
type wireFrame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Event   string          `json:"event"`
	OK      bool            `json:"ok"`
	Payload json.RawMessage `json:"payload"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details struct {
			Code string `json:"code"`
		} `json:"details"`
	} `json:"error"`
}

func dial(t testing.TB, ctx context.Context, f *fake) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", f.port), nil)
	if err != nil {
		t.Fatalf("dialing fake: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func readFrame(ctx context.Context, c *websocket.Conn) (wireFrame, int, error) {
	var f wireFrame
	_, b, err := c.Read(ctx)
	if err != nil {
		return f, 0, err
	}
	return f, len(b), json.Unmarshal(b, &f)
}

func writeJSON(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

// connectReq is the token-only connect frame of §12.
func connectReq(token string, device bool) map[string]any {
	params := map[string]any{
		"minProtocol": 4, "maxProtocol": 4,
		"client": map[string]any{"id": "gateway-client", "version": "0.0.1", "platform": "linux", "mode": "backend"},
		"role":   "operator", "scopes": []string{"operator.read"},
	}
	if token != "" {
		params["auth"] = map[string]any{"token": token}
	}
	if device {
		params["device"] = map[string]any{"id": "test-device"}
	}
	return map[string]any{"type": "req", "id": "1", "method": "connect", "params": params}
}
