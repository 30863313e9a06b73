package fakegateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

const testToken = fgtest.Token

func TestMain(m *testing.M) { os.Exit(fgtest.Main(m)) }

// fake is one running fake gateway process.
type fake struct{ *fgtest.Process }

// startFake runs the fake in mode on a free port with a 50ms startup delay;
// env entries override the defaults. The process is killed at cleanup.
func startFake(t testing.TB, mode string, env ...string) fake {
	t.Helper()
	modeFile := filepath.Join(t.TempDir(), "mode")
	if err := os.WriteFile(modeFile, []byte(mode+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fake{fgtest.Start(t, fgtest.Binary(t), 0, append([]string{"FAKE_GATEWAY_MODE_FILE=" + modeFile}, env...)...)}
}

func (f fake) events(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.Dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitStarted waits until /startupz says started.
func (f fake) waitStarted(t testing.TB) {
	t.Helper()
	fgtest.WaitFor(t, 20*time.Second, "/startupz started", func() bool {
		code, body, err := get(f.URL("/startupz"), time.Second)
		return err == nil && code == http.StatusOK && strings.Contains(body, `"started"`)
	})
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

func dial(t testing.TB, ctx context.Context, f fake) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", f.Port), nil)
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
