package fakegateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// listen binds 127.0.0.1 and, best effort, [::1] on the port, as a loopback
// bind does (§3). Mode bind-any binds 0.0.0.0 instead, the container default
// (§8) that the supervisor must never let happen.
func (g *gateway) listen() ([]net.Listener, error) {
	type bind struct{ network, host string }
	binds := []bind{{"tcp4", "127.0.0.1"}, {"tcp6", "::1"}}
	if g.cfg.mode == "bind-any" {
		binds = []bind{{"tcp4", "0.0.0.0"}}
	}
	var lns []net.Listener
	for i, b := range binds {
		addr := net.JoinHostPort(b.host, strconv.Itoa(g.cfg.port))
		ln, err := net.Listen(b.network, addr)
		for deadline := time.Now().Add(g.cfg.bindRetry); err != nil && errors.Is(err, syscall.EADDRINUSE) && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond) // the real gateway's retry loop, compressed
			ln, err = net.Listen(b.network, addr)
		}
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("listen %s: %w", addr, err)
			}
			g.out.info("gateway", "not listening on %s: %v", addr, err)
			continue
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// ServeHTTP routes the one port: health probes, fake cues, the WebSocket on
// "/" and a stand-in Control UI everywhere else. Like the real gateway it
// logs nothing for HTTP.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/__fake/") {
		g.serveCue(w, r) // answers even when hung, so tests can end a hung fake
		return
	}
	g.stall()
	switch r.URL.Path {
	case "/healthz", "/health":
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "status": "live"})
		return
	}
	// Everything but liveness refuses proxy headers unless they come from a
	// configured trusted proxy and name a remote client (§12, §13).
	policy := readProxyPolicy(g.cfg.stateDir)
	who := g.attribute(r, policy)
	if who.refuse {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]any{
			"message": "Proxy client attribution is required. Configure gateway.trustedProxies.",
			"type":    "proxy_attribution_required"}})
		return
	}
	uptime := time.Since(g.born).Milliseconds()
	phase := g.phase.Load()
	switch r.URL.Path {
	case "/startupz", "/startup":
		switch phase {
		case phaseStarted:
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "status": "started", "version": Version, "uptimeMs": uptime})
		case phaseDraining:
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ok": false, "status": "draining", "uptimeMs": uptime})
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting"})
		}
	case "/readyz", "/ready":
		loop := map[string]any{"delayP99Ms": 12.5, "utilization": 0.01}
		if phase == phaseStarted {
			writeJSON(w, http.StatusOK, map[string]any{"ready": true, "failing": []string{}, "uptimeMs": uptime, "eventLoop": loop})
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "failing": []string{"gateway"}, "uptimeMs": uptime, "eventLoop": loop})
	default:
		if r.URL.Path == "/" && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			g.serveWS(w, r, who, policy)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>OpenClaw Control</title><p>fake gateway %s</p>\n", Version)
	}
}

// serveCue handles POST /__fake/{hang,exit,restart,flood}: loopback peers
// only, with X-Fake-Token equal to the gateway token.
func (g *gateway) serveCue(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		http.Error(w, "fake cues are loopback only", http.StatusForbidden)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Fake-Token")), []byte(g.cfg.token)) != 1 {
		http.Error(w, "missing or wrong X-Fake-Token", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	switch strings.TrimPrefix(r.URL.Path, "/__fake/") {
	case "hang":
		g.hung.Store(true)
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case "exit":
		code, err := intParam(q.Get("code"), 0, 0, 255)
		if err != nil {
			http.Error(w, "code: "+err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "code": code})
		_ = http.NewResponseController(w).Flush()
		g.exit(code)
	case "restart":
		// Answer first: the restart may end the process before a reply
		// written after it gets out.
		writeJSON(w, http.StatusAccepted, map[string]any{"ok": true})
		_ = http.NewResponseController(w).Flush()
		select {
		case g.restartReq <- "POST /__fake/restart":
		default: // one is already pending
		}
	case "grow":
		// A leak on cue, as the real gateway's RSS grows in use
		// (openclaw#91588): mb megabytes, touched so they are resident.
		mb, err := intParam(q.Get("mb"), 100, 1, 4096)
		if err != nil {
			http.Error(w, "mb: "+err.Error(), http.StatusBadRequest)
			return
		}
		g.out.info("gateway", "growing by %d MB (fake grow cue)", mb)
		b := make([]byte, mb<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		g.mu.Lock()
		g.heap = append(g.heap, b)
		g.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "mb": mb})
	case "flood":
		g.cueFlood(w, q.Get("rate"), q.Get("seconds"), q.Get("kind"), q.Get("stream"))
	default:
		http.NotFound(w, r)
	}
}

func (g *gateway) cueFlood(w http.ResponseWriter, rateS, secondsS, kind, stream string) {
	rate, err := intParam(rateS, 1000, 1, 1_000_000)
	if err != nil {
		http.Error(w, "rate: "+err.Error(), http.StatusBadRequest)
		return
	}
	secs, err := intParam(secondsS, 60, 1, 86400)
	if err != nil {
		http.Error(w, "seconds: "+err.Error(), http.StatusBadRequest)
		return
	}
	if kind == "" {
		kind = "same"
	}
	if stream == "" {
		stream = "stdout"
	}
	if (kind != "same" && kind != "varied") || (stream != "stdout" && stream != "stderr") {
		http.Error(w, "kind must be same|varied and stream stdout|stderr", http.StatusBadRequest)
		return
	}
	go g.flood(rate, time.Duration(secs)*time.Second, kind == "varied", stream == "stderr")
	writeJSON(w, http.StatusAccepted, map[string]any{"ok": true, "lines": rate * secs})
}

func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("parsing %q: %w", s, err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
