package fakegateway

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// frame is the protocol v4 envelope, for both directions.
type frame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Event   string          `json:"event,omitempty"`
	Payload any             `json:"payload,omitempty"`
	OK      *bool           `json:"ok,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
	Seq     int64           `json:"seq,omitempty"`
}

type rpcError struct {
	Code         string         `json:"code"`
	Message      string         `json:"message"`
	Details      map[string]any `json:"details,omitempty"`
	Retryable    bool           `json:"retryable,omitempty"`
	RetryAfterMs int            `json:"retryAfterMs,omitempty"`
}

// methods the fake advertises in hello-ok. The real list is longer; the
// model catalog in helloOK brings the frame to the real ~15.5 KB, so a
// client whose read limit is too small fails here as it would for real.
var methods = []string{
	"health", "status", "system-presence", "system-event", "last-heartbeat", "set-heartbeats",
	"config.get", "config.set", "config.patch", "config.schema", "models.list", "agents.list",
	"sessions.list", "sessions.preview", "sessions.reset", "chat.send", "chat.history", "chat.abort",
	"channels.status", "channels.logout", "usage.status", "usage.cost", "logs.tail", "update.run",
	"wizard.start", "device.pair.list", "device.pair.approve", "device.pair.reject", "cron.list",
}

// helloOK builds the connect reply: protocol 4, server version, the policy
// with the tick interval, and padding to the real frame's size.
func (g *gateway) helloOK(wc *wsConn, p connectParams) map[string]any {
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	host, _ := os.Hostname()
	catalog := make([]map[string]any, 0, 178)
	for i := range 178 {
		catalog = append(catalog, map[string]any{
			"id":            fmt.Sprintf("fake/model-%03d", i),
			"provider":      "fake",
			"contextWindow": 200000,
			"input":         []string{"text"},
		})
	}
	return map[string]any{
		"type":     "hello-ok",
		"protocol": 4,
		"server": map[string]any{
			"version": Version,
			"commit":  "fake",
			"host":    host,
			"connId":  wc.id,
		},
		"features": map[string]any{
			"methods": methods,
			"events":  []string{"connect.challenge", "tick", "health", "shutdown", "presence", "agent", "chat"},
		},
		"snapshot": map[string]any{
			"presence":        []any{},
			"health":          healthPayload(),
			"stateVersion":    map[string]any{"presence": 0, "health": 0},
			"uptimeMs":        time.Since(g.born).Milliseconds(),
			"authMode":        "token",
			"modelCatalog":    catalog,
			"sessionDefaults": map[string]any{"defaultAgentId": "main", "mainKey": "main"},
		},
		"auth": map[string]any{
			"role":   p.Role,
			"scopes": scopes,
		},
		"policy": map[string]any{
			"tickIntervalMs":   g.cfg.tick.Milliseconds(),
			"maxPayload":       26214400,
			"maxBufferedBytes": 52428800,
		},
	}
}

// healthPayload is the health RPC's answer (§12), with nothing configured.
func healthPayload() map[string]any {
	return map[string]any{
		"ok":               true,
		"ts":               time.Now().UnixMilli(),
		"durationMs":       42,
		"plugins":          map[string]any{"loaded": []string{}, "errors": []any{}},
		"channels":         map[string]any{},
		"channelOrder":     []string{},
		"channelLabels":    map[string]any{},
		"heartbeatSeconds": 1800,
		"defaultAgentId":   "main",
		"agents":           []any{},
		"sessions":         map[string]any{"path": "", "count": 0, "recent": []any{}},
		"modelRuntime":     map[string]any{"degraded": false},
	}
}

// newUUID returns a random (version 4) UUID, as the challenge nonce.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
