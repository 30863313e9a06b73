package embedcaddy

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(gate{})
	caddy.RegisterModule(slogCore{})
}

// hooks carry the Server's Go values (which JSON can't) to the modules
// Caddy builds from the config. Caddy's running config is process-global,
// so one value is enough; Start and Reload store it before caddy.Load.
type hooks struct {
	healthy func() bool
	logger  *slog.Logger
}

var current atomic.Pointer[hooks]

func gatewayHealthy() bool {
	h := current.Load()
	return h == nil || h.healthy == nil || h.healthy()
}

// gate is the http.handlers.openclawd_gate module. In the main route it
// answers the health path and, while the gateway is down, the 503 page;
// otherwise it passes the request on untouched (no wrapped writer, so
// WebSocket hijacking works). In handle_errors (OnError) it turns proxy
// failures (a refused dial is a 502) into the same 503 page.
type gate struct {
	// HealthPath answers 200 or 503 with an empty body.
	HealthPath string `json:"health_path,omitempty"`
	// OnError marks the instance in the server's error routes.
	OnError bool `json:"on_error,omitempty"`
	// ReachOnly answers reach tokens (ReachPrefix) and passes everything
	// else on: the plain HTTP server's, before its redirects.
	ReachOnly bool `json:"reach_only,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (gate) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.openclawd_gate",
		New: func() caddy.Module { return new(gate) },
	}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if g.OnError {
		status := http.StatusInternalServerError
		var he caddyhttp.HandlerError
		if err, ok := r.Context().Value(caddyhttp.ErrorCtxKey).(error); ok && errors.As(err, &he) && he.StatusCode != 0 {
			status = he.StatusCode
		}
		switch status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			writeStarting(w)
		default: // the status only: error details stay in the log
			http.Error(w, http.StatusText(status), status)
		}
		return nil
	}
	if serveReach(w, r) {
		return nil
	}
	if g.ReachOnly {
		return next.ServeHTTP(w, r)
	}
	up := gatewayHealthy()
	if g.HealthPath != "" && r.URL.Path == g.HealthPath {
		w.Header().Set("Cache-Control", "no-store")
		if up {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return nil
	}
	if !up {
		writeStarting(w)
		return nil
	}
	return next.ServeHTTP(w, r)
}

const startingPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>OpenClaw is starting</title></head>
<body style="font-family:sans-serif;text-align:center;margin-top:20vh">
<h1>OpenClaw is starting</h1>
<p>This page reloads in a few seconds.</p>
</body></html>
`

// writeStarting answers 503 with Retry-After, never a bare 502: browsers
// and clients retry, and the page tells people what is going on.
func writeStarting(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, startingPage)
}

// Interface guards.
var (
	_ caddyhttp.MiddlewareHandler = (*gate)(nil)
)
