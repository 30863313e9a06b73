package fakegateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// wsConn is one WebSocket client of the fake.
type wsConn struct {
	c      *websocket.Conn
	id     string
	seq    atomic.Int64 // event sequence number
	hello  atomic.Bool  // connect succeeded
	closed atomic.Int32 // close code we sent, 0 if none

	who           attribution // set at accept
	origin        string      // the Origin header, "" for non-browser clients
	originAllowed bool
}

// serveWS runs one connection: challenge first, then requests until the
// peer goes or the fake closes it. Open and close are logged at INFO, as
// the real gateway logs every WS connect and close (§11).
func (g *gateway) serveWS(w http.ResponseWriter, r *http.Request, who attribution, p proxyPolicy) {
	// The gateway checks a browser's Origin itself, at connect, against
	// gateway.controlUi.allowedOrigins (§12); the library's same-host
	// check would answer 403 before that.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered with an HTTP error
	}
	wc := &wsConn{c: c, id: newUUID()[:8], who: who, origin: r.Header.Get("Origin")}
	wc.originAllowed = wc.origin == "" || p.origins[wc.origin] || (!who.remote && loopbackOrigin(wc.origin))
	opened := time.Now()
	g.out.info("ws", "← open conn=%s remote=%s client=%s", wc.id, r.RemoteAddr, who.client)
	c.SetReadLimit(64 << 10) // the real limit before auth

	g.mu.Lock()
	g.conns[wc] = struct{}{}
	g.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	err = g.readLoop(ctx, wc)
	cancel()
	g.mu.Lock()
	delete(g.conns, wc)
	g.mu.Unlock()
	c.CloseNow()

	code := int(wc.closed.Load())
	if code == 0 {
		code = int(websocket.CloseStatus(err))
		if code < 0 {
			code = int(websocket.StatusAbnormalClosure)
		}
	}
	g.out.info("ws", "→ close conn=%s code=%d durationMs=%d", wc.id, code, time.Since(opened).Milliseconds())
}

func (g *gateway) readLoop(ctx context.Context, wc *wsConn) error {
	challenge := map[string]any{"nonce": newUUID(), "ts": time.Now().UnixMilli(), "capabilities": []string{"model-catalog-snapshot"}}
	if err := wc.send(ctx, frame{Type: "event", Event: "connect.challenge", Payload: challenge}); err != nil {
		return err
	}
	for {
		_, b, err := wc.c.Read(ctx)
		if err != nil {
			return err
		}
		g.stall()
		var f frame
		if err := json.Unmarshal(b, &f); err != nil || f.Type != "req" || f.ID == "" {
			return wc.refuse(ctx, f.ID, rpcError{Code: "INVALID_REQUEST", Message: "invalid frame"}, websocket.StatusPolicyViolation, "invalid frame")
		}
		switch {
		case !wc.hello.Load() && f.Method != "connect":
			return wc.refuse(ctx, f.ID, rpcError{Code: "INVALID_REQUEST", Message: "first request must be connect"}, websocket.StatusPolicyViolation, "connect required")
		case f.Method == "connect" && wc.hello.Load():
			err = wc.reply(ctx, f.ID, nil, &rpcError{Code: "INVALID_REQUEST", Message: "already connected"})
		case f.Method == "connect":
			err = g.connect(ctx, wc, f)
		case f.Method == "health":
			err = wc.reply(ctx, f.ID, healthPayload(), nil)
		default:
			err = wc.reply(ctx, f.ID, nil, &rpcError{Code: "INVALID_REQUEST", Message: "unknown method: " + f.Method})
		}
		if err != nil {
			return err
		}
	}
}

type connectParams struct {
	MinProtocol int             `json:"minProtocol"`
	MaxProtocol int             `json:"maxProtocol"`
	Role        string          `json:"role"`
	Scopes      []string        `json:"scopes"`
	Device      json.RawMessage `json:"device"`
	Auth        *struct {
		Token string `json:"token"`
	} `json:"auth"`
	Client struct {
		ID   string `json:"id"`
		Mode string `json:"mode"`
	} `json:"client"`
}

// connect answers the connect request with the refusals of §12 or hello-ok.
func (g *gateway) connect(ctx context.Context, wc *wsConn, f frame) error {
	var p connectParams
	if err := json.Unmarshal(f.Params, &p); err != nil {
		return wc.refuse(ctx, f.ID, rpcError{Code: "INVALID_REQUEST", Message: "invalid connect params"}, websocket.StatusPolicyViolation, "invalid connect params")
	}
	if g.cfg.logConnect && p.Auth != nil {
		g.out.info("ws", "connect frame conn=%s token=%s", wc.id, p.Auth.Token)
	}
	if g.phase.Load() != phaseStarted {
		return wc.refuse(ctx, f.ID, rpcError{Code: "UNAVAILABLE", Message: "gateway starting", Retryable: true, RetryAfterMs: 500},
			websocket.StatusTryAgainLater, "gateway starting")
	}
	if p.MinProtocol > 4 || p.MaxProtocol < 4 {
		return wc.refuse(ctx, f.ID, rpcError{Code: "INVALID_REQUEST", Message: "protocol mismatch: server speaks 4"}, websocket.StatusProtocolError, "protocol mismatch")
	}
	token := ""
	if p.Auth != nil {
		token = p.Auth.Token
	}
	var refusal *rpcError
	switch {
	case !wc.originAllowed: // checked at admission, before auth, for any client sending Origin
		refusal = &rpcError{Code: "INVALID_REQUEST", Message: "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)",
			Details: map[string]any{"code": "CONTROL_UI_ORIGIN_NOT_ALLOWED"}}
	case token == "" && len(p.Device) == 0:
		refusal = &rpcError{Code: "NOT_PAIRED", Message: "device identity required", Details: map[string]any{"code": "DEVICE_IDENTITY_REQUIRED"}}
	case token == "":
		refusal = &rpcError{Code: "INVALID_REQUEST", Message: "unauthorized: gateway token missing", Details: map[string]any{"code": "AUTH_TOKEN_MISSING"}}
	case subtle.ConstantTimeCompare([]byte(token), []byte(g.cfg.token)) != 1:
		select { // the real gateway answers a wrong token after ~260ms
		case <-time.After(260 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		refusal = &rpcError{Code: "INVALID_REQUEST", Message: "unauthorized: gateway token mismatch", Details: map[string]any{"code": "AUTH_TOKEN_MISMATCH"}}
	case wc.who.remote && len(p.Device) > 0:
		// Direct-loopback devices are approved silently; a new device
		// through the proxy waits for `openclaw devices approve` (§12, §13).
		refusal = &rpcError{Code: "NOT_PAIRED", Message: "pairing required",
			Details: map[string]any{"code": "PAIRING_REQUIRED", "requestId": newUUID()}}
	case wc.who.remote:
		p.Scopes = []string{} // token without device, remote: hello-ok with no scopes (§13)
	}
	if refusal != nil {
		g.out.info("ws", "connect refused conn=%s code=%s", wc.id, refusal.Details["code"])
		return wc.refuse(ctx, f.ID, *refusal, websocket.StatusPolicyViolation, "unauthorized")
	}
	// Connected before hello-ok goes out: a client that has it may see a
	// shutdown at once, and must get its event.
	wc.hello.Store(true)
	if err := wc.reply(ctx, f.ID, g.helloOK(wc, p), nil); err != nil {
		return err
	}
	wc.c.SetReadLimit(1 << 20)
	g.out.info("ws", "connected conn=%s client=%s mode=%s role=%s scopes=%d remote=%t", wc.id, p.Client.ID, p.Client.Mode, p.Role, len(p.Scopes), wc.who.remote)
	go g.ticks(ctx, wc)
	return nil
}

// ticks sends a tick event every tick interval until the connection ends or
// the fake hangs.
func (g *gateway) ticks(ctx context.Context, wc *wsConn) {
	t := time.NewTicker(g.cfg.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if g.hung.Load() {
			return
		}
		if wc.send(ctx, frame{Type: "event", Event: "tick", Payload: map[string]any{"ts": time.Now().UnixMilli()}}) != nil {
			return
		}
	}
}

// closeAll sends the shutdown event and closes every connection with 1012,
// in parallel, giving up after two seconds as the process is going anyway.
func (g *gateway) closeAll(reason string, restartExpectedMs int64) {
	g.mu.Lock()
	conns := make([]*wsConn, 0, len(g.conns))
	for wc := range g.conns {
		conns = append(conns, wc)
	}
	g.mu.Unlock()
	payload := map[string]any{"reason": reason}
	if restartExpectedMs > 0 {
		payload["restartExpectedMs"] = restartExpectedMs
	}
	var wg sync.WaitGroup
	for _, wc := range conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if wc.hello.Load() {
				_ = wc.send(ctx, frame{Type: "event", Event: "shutdown", Payload: payload})
			}
			wc.closed.Store(int32(websocket.StatusServiceRestart))
			_ = wc.c.Close(websocket.StatusServiceRestart, "service restart")
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

func (wc *wsConn) send(ctx context.Context, f frame) error {
	if f.Type == "event" {
		f.Seq = wc.seq.Add(1)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encoding %s frame: %w", f.Type, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := wc.c.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("writing %s frame: %w", f.Type, err)
	}
	return nil
}

func (wc *wsConn) reply(ctx context.Context, id string, payload any, rerr *rpcError) error {
	ok := rerr == nil
	return wc.send(ctx, frame{Type: "res", ID: id, OK: &ok, Payload: payload, Error: rerr})
}

// refuse answers with an error and closes with code; the connection is over.
func (wc *wsConn) refuse(ctx context.Context, id string, rerr rpcError, code websocket.StatusCode, reason string) error {
	if id != "" {
		_ = wc.reply(ctx, id, nil, &rerr)
	}
	wc.closed.Store(int32(code))
	return wc.c.Close(code, reason)
}

// loopbackOrigin reports whether a browser origin names this host's
// loopback, which the gateway accepts from local clients without a list.
func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
