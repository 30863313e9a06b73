package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// frame is the protocol v4 envelope as the probe reads it.
type frame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Event   string          `json:"event"`
	OK      bool            `json:"ok"`
	Payload json.RawMessage `json:"payload"`
	Error   *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
		Details   struct {
			Code string `json:"code"`
		} `json:"details"`
	} `json:"error"`
}

// connectFrame is the token-only connect of §12, field for field.
type connectFrame struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Method string `json:"method"`
	Params struct {
		MinProtocol int `json:"minProtocol"`
		MaxProtocol int `json:"maxProtocol"`
		Client      struct {
			ID       string `json:"id"`
			Version  string `json:"version"`
			Platform string `json:"platform"`
			Mode     string `json:"mode"`
		} `json:"client"`
		Role   string   `json:"role"`
		Scopes []string `json:"scopes"`
		Auth   struct {
			Token string `json:"token"`
		} `json:"auth"`
	} `json:"params"`
}

// refusal is the gateway's error reply to connect.
type refusal struct {
	code      string // details.code when present (AUTH_TOKEN_MISMATCH), else code
	message   string
	retryable bool // UNAVAILABLE while sidecars start: come back later
}

func (r *refusal) Error() string {
	return fmt.Sprintf("gateway refused connect: %s: %s", r.code, r.message)
}

type hello struct {
	version string
	tick    time.Duration
}

// outcome kinds of one WebSocket session.
const (
	sessionEnded   = iota // our context ended
	sessionFailed         // dial, handshake or drop: counts toward Failures
	sessionRefused        // auth refusal: reported, retried once per DeepInterval
	sessionRestart        // 1012/1013 or UNAVAILABLE: the gateway restarts or starts
)

type outcome struct {
	kind    int
	code    string
	err     error
	helloOK bool
}

// classify sorts a handshake or read error into an outcome.
func classify(err error, helloOK bool) outcome {
	var r *refusal
	switch {
	case errors.As(err, &r) && (r.retryable || r.code == "UNAVAILABLE"):
		return outcome{kind: sessionRestart, code: r.code, err: err, helloOK: helloOK}
	case errors.As(err, &r):
		return outcome{kind: sessionRefused, code: r.code, err: err, helloOK: helloOK}
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusServiceRestart, websocket.StatusTryAgainLater:
		return outcome{kind: sessionRestart, err: err, helloOK: helloOK}
	}
	return outcome{kind: sessionFailed, err: err, helloOK: helloOK}
}

// deepLoop keeps one WebSocket open for the life of a Watch, reconnecting
// after drops with a backoff from Interval up to DeepInterval, and after a
// refusal no sooner than DeepInterval: every connect is a line in the
// gateway's log (§11), so it must never spin.
func (c *Checker) deepLoop(ctx context.Context, gen uint64, failed chan<- struct{}, abort *atomic.Bool) {
	backoff := c.o.Interval
	refusals, lastCode := 0, ""
	for {
		out := c.deepSession(ctx, gen, failed, abort)
		if ctx.Err() != nil {
			return
		}
		if out.helloOK {
			backoff, refusals, lastCode = c.o.Interval, 0, ""
		}
		wait := backoff
		backoff = min(2*backoff, max(c.o.DeepInterval, c.o.Interval))
		switch out.kind {
		case sessionRefused:
			// A refusal won't fix itself soon: back off to an hour and say
			// it once per code, not once per attempt.
			wait = min(c.o.DeepInterval<<min(refusals, 6), max(time.Hour, c.o.DeepInterval))
			refusals++
			if out.code != lastCode {
				c.log.Warn("gateway refused the websocket probe", "code", out.code, "error", out.err, "retry_in", wait)
			}
			lastCode = out.code
		case sessionRestart:
			c.log.Info("gateway websocket closed for a restart or start", "error", out.err, "retry_in", wait)
		case sessionFailed:
			c.deepFailure(gen, failed, errText(out.err))
		}
		c.update(gen, func() { c.st.Deep.Error, c.st.Deep.Code = errText(out.err), out.code })
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// deepSession dials, completes the handshake and runs until the socket or
// ctx ends.
func (c *Checker) deepSession(ctx context.Context, gen uint64, failed chan<- struct{}, abort *atomic.Bool) outcome {
	dctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, fmt.Sprintf("ws://127.0.0.1:%d/", c.o.Port), &websocket.DialOptions{HTTPClient: c.wsHTTP})
	if err != nil {
		return outcome{kind: sessionFailed, err: fmt.Errorf("dialing websocket: %w", err)}
	}
	conn.SetReadLimit(1 << 20) // hello-ok is ~15.5 KB, and grows with config
	c.update(gen, func() { c.st.Deep.Connected = true })
	defer c.update(gen, func() { c.st.Deep.Connected, c.st.Deep.HelloOK = false, false })

	h, err := c.handshake(dctx, conn)
	if err != nil {
		conn.CloseNow()
		return classify(err, false)
	}
	cancel()
	return c.runSession(ctx, gen, conn, h, failed, abort)
}

// handshake reads connect.challenge, sends connect and waits for hello-ok.
func (c *Checker) handshake(ctx context.Context, conn *websocket.Conn) (hello, error) {
	token := ""
	if c.o.Token != nil {
		token = c.o.Token()
	}
	return connectVerified(ctx, conn, token, c.o.Listener)
}

// connect is the token-only handshake of §12: connect.challenge, connect,
// hello-ok. A refusal comes back as *refusal.
func connect(ctx context.Context, conn *websocket.Conn, token string) (hello, error) {
	return connectVerified(ctx, conn, token, nil)
}

// connectVerified is connect with verify (if set) called right before the
// token is sent: the last moment to find that a squatter answers.
func connectVerified(ctx context.Context, conn *websocket.Conn, token string, verify func() error) (hello, error) {
	f, err := readFrame(ctx, conn)
	if err != nil {
		return hello{}, fmt.Errorf("reading connect.challenge: %w", err)
	}
	if f.Type != "event" || f.Event != "connect.challenge" {
		return hello{}, fmt.Errorf("expected the connect.challenge event, got %s %q", f.Type, f.Event)
	}
	if verify != nil {
		if err := verify(); err != nil {
			return hello{}, fmt.Errorf("not sending the token: the listener on the port is not the gateway's: %w", err)
		}
	}
	var req connectFrame
	req.Type, req.ID, req.Method = "req", "1", "connect"
	p := &req.Params
	p.MinProtocol, p.MaxProtocol = 4, 4
	p.Client.ID, p.Client.Version, p.Client.Platform, p.Client.Mode = "gateway-client", "0.0.1", runtime.GOOS, "backend"
	p.Role, p.Scopes = "operator", []string{"operator.read"}
	p.Auth.Token = token
	if err := writeFrame(ctx, conn, req); err != nil {
		return hello{}, fmt.Errorf("sending connect: %w", err)
	}
	for {
		if f, err = readFrame(ctx, conn); err != nil {
			return hello{}, fmt.Errorf("waiting for hello-ok: %w", err)
		}
		if f.Type == "res" && f.ID == "1" {
			break
		}
	}
	if !f.OK {
		r := &refusal{code: "UNKNOWN", message: "no error in the reply"}
		if e := f.Error; e != nil {
			r.code, r.message, r.retryable = e.Code, e.Message, e.Retryable
			if e.Details.Code != "" {
				r.code = e.Details.Code
			}
		}
		return hello{}, r
	}
	var ok struct {
		Type   string `json:"type"`
		Server struct {
			Version string `json:"version"`
		} `json:"server"`
		Policy struct {
			TickIntervalMs int64 `json:"tickIntervalMs"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(f.Payload, &ok); err != nil || ok.Type != "hello-ok" {
		return hello{}, fmt.Errorf("connect reply is not hello-ok (type %q): %v", ok.Type, err)
	}
	h := hello{version: ok.Server.Version, tick: time.Duration(ok.Policy.TickIntervalMs) * time.Millisecond}
	if h.tick <= 0 {
		h.tick = 30 * time.Second // the documented default (§12)
	}
	return h, nil
}

func readFrame(ctx context.Context, conn *websocket.Conn) (frame, error) {
	var f frame
	_, b, err := conn.Read(ctx)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("decoding frame: %w", err)
	}
	return f, nil
}

func writeFrame(ctx context.Context, conn *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding frame: %w", err)
	}
	return conn.Write(ctx, websocket.MessageText, b)
}
