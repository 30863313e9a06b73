package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openclawd/openclawd/internal/alerttest"
	"github.com/openclawd/openclawd/internal/fakeprovider"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// chatClient drives chat turns over the gateway's WebSocket as an
// operator with write scope (token only, direct loopback: openclaw-gateway.md §12).
type chatClient struct {
	conn *websocket.Conn
	seq  int
}

func dialChat(t *testing.T, port int, token string) *chatClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", port), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(4 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	c := &chatClient{conn: conn}
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), "connect.challenge") {
		t.Fatalf("no challenge: %v %.200s", err, b)
	}
	c.send(t, ctx, "connect", map[string]any{"minProtocol": 4, "maxProtocol": 4,
		"client": map[string]any{"id": "gateway-client", "version": "0.0.1", "platform": "linux", "mode": "backend"},
		"role":   "operator", "scopes": []string{"operator.read", "operator.write"}, "auth": map[string]any{"token": token}})
	for {
		f := c.read(t, ctx)
		if f.Type == "res" && f.ID == "1" {
			if !f.OK {
				t.Fatalf("connect refused: %s", f.Error)
			}
			return c
		}
	}
}

type chatFrame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Event   string          `json:"event"`
	OK      bool            `json:"ok"`
	Payload json.RawMessage `json:"payload"`
	Error   json.RawMessage `json:"error"`
}

func (c *chatClient) send(t *testing.T, ctx context.Context, method string, params any) string {
	t.Helper()
	c.seq++
	id := fmt.Sprint(c.seq)
	b, _ := json.Marshal(map[string]any{"type": "req", "id": id, "method": method, "params": params})
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return id
}

func (c *chatClient) read(t *testing.T, ctx context.Context) chatFrame {
	t.Helper()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	var f chatFrame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %.200s: %v", b, err)
	}
	return f
}

// turn sends one message and returns the turn's end state (final, error,
// aborted) and, for an error, its text.
func (c *chatClient) turn(t *testing.T, msg string) (state, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := fmt.Sprintf("turn-%d-%d", time.Now().UnixNano(), c.seq)
	id := c.send(t, ctx, "chat.send", map[string]any{"sessionKey": "main", "message": msg, "idempotencyKey": run})
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			return "closed", err.Error() // the gateway stopped under the turn
		}
		var f chatFrame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("frame %.200s: %v", b, err)
		}
		if f.Type == "res" && f.ID == id && !f.OK {
			return "refused", string(f.Error)
		}
		if f.Type != "event" || f.Event != "chat" {
			continue
		}
		var p struct {
			RunID        string          `json:"runId"`
			State        string          `json:"state"`
			ErrorMessage string          `json:"errorMessage"`
			Message      json.RawMessage `json:"message"`
		}
		_ = json.Unmarshal(f.Payload, &p)
		if p.RunID != run {
			continue
		}
		switch p.State {
		case "final", "aborted":
			return p.State, ""
		case "error":
			return p.State, p.ErrorMessage + string(p.Message)
		}
	}
}

// The real gateway, its model an OpenAI-compatible server in the test
// tree that counts requests: status shows the tokens and cost the gateway
// recorded; at the daily cap no request reaches the provider, channels
// and schedules included, until `openclawd spend resume`.
func TestRealSpendCap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: npm runs as the unprivileged install user")
	}
	t.Parallel()
	prov := fakeprovider.New(t)
	hook := alerttest.NewHTTP(t)
	in := newRealInstance(t)
	perTurn := (float64(prov.PromptTokens)*fakeprovider.PriceInput + float64(prov.CompletionTokens)*fakeprovider.PriceOutput) / 1e6
	capUSD := 4.5 * perTurn // the fifth turn crosses it
	b, _ := os.ReadFile(in.cfg)
	cfg := string(b) + fmt.Sprintf(`backup:
  every: 0s
spend:
  daily_alert: %g
  daily_cap: %g
  interval: 2s
alerts:
  min_interval: 1s
  notify:
    - {name: hook, url: "generic+%s/hook"}
`, 2.5*perTurn, capUSD, hook.URL)
	if err := os.WriteFile(in.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The owner's gateway config: the fake provider as the default model.
	gwDir := filepath.Join(in.dir, "state", "openclaw")
	gwCfg := filepath.Join(gwDir, "openclaw.json")
	for _, d := range []string{filepath.Join(in.dir, "state"), gwDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(d, serviceIDs.uid, serviceIDs.gid)
	}
	owner, _ := json.Marshal(map[string]any{
		"models": map[string]any{"providers": map[string]any{fakeprovider.ProviderID: prov.ProviderConfig()}},
		"agents": map[string]any{"defaults": map[string]any{"model": map[string]any{"primary": fakeprovider.ModelRef}}},
	})
	writeFile(t, gwCfg, string(owner), 0o600, serviceIDs.uid)
	// setup's cost-safe profile, shown, then written by the service user
	// into the owner's config: the real gateway must start with it.
	out, rc := in.cli("setup", "--config", in.cfg, "--non-interactive", "--no-start", "--cost-safe=yes")
	if rc != 0 || !strings.Contains(out, "agents.defaults.heartbeat.every = \"2h\"") || !strings.Contains(out, "cost-safe profile: set ") {
		t.Fatalf("setup --cost-safe=yes (rc %d):\n%s", rc, out)
	}
	if b, _ := os.ReadFile(gwCfg); !strings.Contains(string(b), fakeprovider.ModelRef) || !strings.Contains(string(b), "lightContext") {
		t.Fatalf("openclaw.json after setup:\n%s", b)
	}
	if fi, err := os.Stat(gwCfg); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(serviceIDs.uid) {
		t.Fatalf("openclaw.json is not the service user's after setup: %v", err)
	}
	in.start()
	in.waitStatus("a healthy real gateway", 8*time.Minute, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Health.Deep.HelloOK
	})
	chat := dialChat(t, in.port, in.token())

	// Turns until openclawd pauses model calls.
	var turns, atPause int
	var st apitype.Status
	// One turn every 3 s, a busy chat: the gateway caches usage.cost for
	// 30 s, which bounds how late the cap can see a turn.
	for turns = 1; turns <= 80; turns++ {
		began := time.Now()
		state, text := chat.turn(t, fmt.Sprintf("hello %d", turns))
		st, _ = in.status()
		if st.Spend != nil && st.Spend.Paused != nil {
			break // paused after this turn, or before it began
		}
		if state != "final" {
			t.Fatalf("turn %d before the cap: %s %s", turns, state, text)
		}
		time.Sleep(time.Until(began.Add(3 * time.Second))) // the chat's pace, not a wait for a condition
	}
	if st.Spend == nil || st.Spend.Paused == nil {
		t.Fatalf("no pause after %d turns ($%.4f each, cap $%.4f): %+v", turns, perTurn, capUSD, st.Spend)
	}
	// The gateway hot-reloads the pause within a second or so: what runs
	// until then is overshoot too.
	st, _ = in.waitStatus("the gateway to take the pause", time.Minute, func(s apitype.Status, _ int) bool {
		return s.Spend != nil && s.Spend.Paused != nil && s.Spend.Paused.Applied
	})
	atPause = prov.Requests()
	over := float64(atPause)*perTurn - capUSD
	t.Logf("FIGURE spend cap $%.4f ($%.4f a turn): paused after %d turns, %d provider requests; overshoot %d requests, $%.4f past the cap",
		capUSD, perTurn, turns, atPause, atPause-int(math.Ceil(capUSD/perTurn)), max(over, 0))

	// Status shows what the gateway recorded (its usage cache may lag a turn).
	sp := st.Spend
	if sp.Today.Tokens == 0 || sp.Today.Tokens > int64(atPause*(prov.PromptTokens+prov.CompletionTokens)) || sp.Today.CostUSD < capUSD || !sp.Estimate {
		t.Errorf("spend in status: %+v; the provider served %d requests of %d tokens", sp, atPause, prov.PromptTokens+prov.CompletionTokens)
	}
	out, _ = in.cli("status", "--socket", in.sock)
	if !strings.Contains(out, "spend      today $") || !strings.Contains(out, "paused     model calls until") {
		t.Errorf("status does not show the spend and the pause:\n%s", out)
	}
	paused, _ := os.ReadFile(gwCfg)
	for _, want := range []string{`"openclawd-paused/paused"`, `"0m"`} {
		if !strings.Contains(string(paused), want) {
			t.Errorf("openclaw.json while paused lacks %s:\n%s", want, paused)
		}
	}

	// Paused: turns fail at once, and none reaches the provider.
	for i := range 2 {
		state, text := chat.turn(t, fmt.Sprintf("paused %d", i))
		if state != "error" {
			t.Fatalf("a turn while paused ended %s", state)
		}
		t.Logf("while paused the user sees: %.200s", text)
	}
	if n := prov.Requests(); n != atPause {
		t.Fatalf("%d requests reached the provider while paused", n-atPause)
	}
	waitFor(t, time.Minute, "the spend_paused alert", func() bool {
		return len(alerttest.Matching(hook.Got(), "PROBLEM spend_paused")) == 1
	})
	if len(alerttest.Matching(hook.Got(), "spend_daily")) != 1 {
		t.Errorf("no spend_daily alert: %+v", hook.Got())
	}

	// A session with its own model escapes the config pause (docs/spend.md
	// §4): openclawd sees the spend still grow and stops the gateway.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	id := chat.send(t, ctx, "sessions.patch", map[string]any{"key": "main", "model": fakeprovider.ModelRef})
	for {
		f := chat.read(t, ctx)
		if f.Type == "res" && f.ID == id {
			if !f.OK {
				t.Fatalf("sessions.patch: %s", f.Error)
			}
			break
		}
	}
	cancel()
	escaped, stopped := 0, false
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); {
		if st, _ = in.status(); st.Spend != nil && st.Spend.Paused != nil && st.Spend.Paused.Mode == "stopped" {
			stopped = true
			break
		}
		began := time.Now()
		if state, _ := chat.turn(t, "own model"); state == "final" {
			escaped++
		}
		time.Sleep(time.Until(began.Add(5 * time.Second))) // the chat's pace, not a wait for a condition
	}
	if !stopped {
		t.Fatalf("spend grew through %d turns on a session's own model, and the gateway was not stopped: %+v", escaped, st.Spend)
	}
	st, _ = in.waitStatus("the gateway stopped", time.Minute, func(s apitype.Status, _ int) bool { return s.Gateway.PID == 0 })
	atStop := prov.Requests()
	t.Logf("FIGURE config pause escaped by a session model: %d turns reached the provider before openclawd stopped the gateway", escaped)
	if st.Alerts == nil {
		t.Fatalf("status while stopped: %+v", st)
	}
	for _, a := range st.Alerts.Open {
		if a.Key == "gateway_down" {
			t.Errorf("a gateway stopped by the spend cap raised gateway_down: %+v", a)
		}
	}
	if prov.Requests() != atStop {
		t.Fatalf("requests reached the provider with the gateway stopped")
	}
	atPause = atStop

	// Resume: the owner's config comes back, and turns reach the provider.
	resumedAt, oldPID := time.Now(), in.mustStatus().Gateway.PID
	out, rc = in.cli("spend", "resume", "--socket", in.sock)
	if rc != 0 || !strings.Contains(out, "model calls resumed") {
		t.Fatalf("spend resume (rc %d): %s", rc, out)
	}
	resumed, _ := os.ReadFile(gwCfg)
	if strings.Contains(string(resumed), "openclawd-paused") || !strings.Contains(string(resumed), fakeprovider.ModelRef) {
		t.Fatalf("openclaw.json after resume:\n%s", resumed)
	}
	// The gateway restarts: heartbeats come back only with a new process.
	in.waitStatus("a new healthy gateway after the resume", 3*time.Minute, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Health.Deep.HelloOK && s.Gateway.PID != oldPID && s.Spend != nil && s.Spend.Paused == nil
	})
	chat = dialChat(t, in.port, in.token())
	if state, text := chat.turn(t, "after resume"); state != "final" {
		t.Fatalf("a turn after resume: %s %s", state, text)
	}
	if n := prov.Requests(); n != atPause+1 {
		t.Fatalf("%d requests after resume, want 1", n-atPause)
	}
	// The cap stays lifted for the rest of the day, though today's spend
	// is past it.
	st, _ = in.waitStatus("a spend reading after the resume", time.Minute, func(s apitype.Status, _ int) bool {
		return s.Spend != nil && s.Spend.UpdatedAt.After(resumedAt.Add(5*time.Second))
	})
	if st.Spend.Paused != nil || st.Spend.Today.CostUSD < capUSD {
		t.Fatalf("after resume: %+v", st.Spend)
	}
}
