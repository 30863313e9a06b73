// Package embedcaddy runs Caddy as a library in front of the OpenClaw
// gateway, so one openclawd process serves automatic HTTPS (ACME or
// Caddy's internal CA) and reverse-proxies to 127.0.0.1:<gateway port>.
//
// It is Caddy's sole owner in the process: Caddy's running config is
// global, so at most one Server runs at a time and nothing else may call
// caddy.Load, caddy.Run or caddy.Stop. The config is built from Caddy's own
// types (ConfigJSON) with the admin API off, no autosave, storage under the
// state directory, h1/h2 only (no UDP), a stream_close_delay so reloads
// keep WebSockets, and a 503 "OpenClaw is starting" page instead of a 502.
// Caddy's zap logs are bridged into slog, and Caddy's own sd_notify calls
// are disabled (see notify_linux.go): the daemon owns readiness.
//
// Process-wide side effects of importing this package (Caddy's): the std
// log package is redirected into zap at init, and while a config runs it
// goes to the Server's slog.Logger. Caddy's instance.uuid is written to
// $XDG_DATA_HOME/caddy (else ~/.local/share/caddy) whatever the storage
// root: set XDG_DATA_HOME in the service unit.
package embedcaddy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/openclawd/openclawd/internal/sockets"

	// The smallest module set that works (dependencies.md §2); not
	// modules/standard.
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	_ "github.com/caddyserver/caddy/v2/modules/caddypki"
	_ "github.com/caddyserver/caddy/v2/modules/caddytls"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage"
)

// Server owns the embedded Caddy.
type Server struct {
	mu      sync.Mutex // guards the fields below and serializes Caddy calls
	opts    Options    // with defaults applied
	logger  *slog.Logger
	started bool // Start called and Stop not yet
	loaded  bool // a Caddy config is running (false in mode off)
}

// owner is the Server whose config Caddy runs, if any.
var owner struct {
	sync.Mutex
	s *Server
}

// New validates o; it starts nothing.
func New(o Options) (*Server, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("embedcaddy: %w", err)
	}
	return &Server{opts: o, logger: safeLogger(o.Logger).With("component", "caddy")}, nil
}

// Start loads the config and returns once Caddy listens, or with an error
// naming the busy port. Certificates are obtained in the background (an
// internal leaf ~0.1s later; until then handshakes fail). In mode off, or
// if already started, it does nothing. caddy.Load takes ~10ms and can't be
// cancelled, so ctx is only checked up front.
func (s *Server) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("starting caddy: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	if err := s.apply(s.opts); err != nil {
		return err
	}
	s.started = true
	return nil
}

// Reload switches to o. Caddy starts the new config before stopping the
// old one, and stream_close_delay keeps proxied WebSockets open. On error
// the previous config keeps running. Before Start it only stores o.
func (s *Server) Reload(o Options) error {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return fmt.Errorf("embedcaddy: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		if err := s.apply(o); err != nil {
			return err
		}
	}
	s.opts = o
	return nil
}

// Stop stops Caddy and returns once its listeners are closed (or ctx
// ends); it is idempotent and safe after a failed Start. In-flight requests
// get up to the 5s grace period in the background; proxied WebSockets get
// stream_close_delay, then 1001, unless the process exits first.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = false
	if !s.loaded {
		return nil
	}
	o := s.opts
	s.unload()
	// caddy.Stop only starts the servers' shutdowns; wait for the sockets.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for _, port := range []int{o.HTTPSPort, o.HTTPPort} {
		addr := net.JoinHostPort(o.ListenHost, strconv.Itoa(port))
		for caddy.ListenerUsage("tcp", addr) > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("stopping caddy: waiting for %s to close: %w", addr, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}

// apply makes Caddy run o (or nothing, for mode off). s.mu is held.
func (s *Server) apply(o Options) error {
	if o.Mode == ModeOff {
		if s.loaded {
			s.unload()
		}
		return nil
	}
	cfg, err := ConfigJSON(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.StorageDir, 0o700); err != nil {
		return fmt.Errorf("creating certificate store (state_dir): %w", err)
	}
	owner.Lock()
	defer owner.Unlock()
	if owner.s != nil && owner.s != s {
		return errors.New("embedcaddy: another Server is running: Caddy's config is process-global, stop it first")
	}
	prev := current.Swap(&hooks{healthy: o.Healthy, logger: s.logger})
	if err := caddy.Load(cfg, false); err != nil {
		current.Store(prev) // Caddy rolled back to the previous config, if any
		return explainLoadError(err, o)
	}
	owner.s, s.loaded = s, true
	return nil
}

// unload stops Caddy. s.mu is held.
func (s *Server) unload() {
	owner.Lock()
	defer owner.Unlock()
	_ = caddy.Stop() // always nil; apps log their own stop errors
	current.Store(nil)
	owner.s, s.loaded = nil, false
}

// explainLoadError names the config key and the fix for the errors an
// operator can act on. Caddy flattens most causes with %v, so the text
// is checked as well as the chain.
func explainLoadError(err error, o Options) error {
	msg := err.Error()
	for _, p := range []struct {
		key  string
		port int
	}{{"tls.https_port", o.HTTPSPort}, {"tls.http_port", o.HTTPPort}} {
		if !strings.Contains(msg, ":"+strconv.Itoa(p.port)+": bind:") {
			continue
		}
		switch {
		case errors.Is(err, syscall.EADDRINUSE) || strings.Contains(msg, "address already in use"):
			holder := "another process"
			if ls, lerr := sockets.TCPListeners(p.port); lerr == nil && len(ls) > 0 {
				holder = sockets.Describe(ls)
			}
			return fmt.Errorf("starting caddy: port %d (%s) is already in use by %s: stop that web server (a system Caddy or nginx?) or choose another port: %w", p.port, p.key, holder, err)
		case errors.Is(err, syscall.EACCES) || strings.Contains(msg, "permission denied"):
			return fmt.Errorf("starting caddy: binding port %d (%s) needs CAP_NET_BIND_SERVICE (the packaged unit grants it) or a port above 1023: %w", p.port, p.key, err)
		}
	}
	return fmt.Errorf("starting caddy: %w", err)
}
