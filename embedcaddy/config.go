package embedcaddy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/caddyserver/caddy/v2/modules/caddypki"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/caddy/v2/modules/filestorage"
)

const (
	serverName = "openclawd"
	// HealthPath answers 200 when the gateway is up, else 503, with no details.
	HealthPath = "/.well-known/openclawd/health"
	// streamCloseDelay keeps proxied WebSockets open across a reload
	// (otherwise every reload closes every chat with 1001).
	streamCloseDelay = 5 * time.Minute
	// gracePeriod bounds how long in-flight requests may run on after Stop
	// or a reload (in the background).
	gracePeriod = 5 * time.Second
	// logLevel is the lowest Caddy level bridged into slog: Caddy's DEBUG
	// is per-handshake noise.
	logLevel = "info"
)

// securityHeaders go on every proxied response and on our own pages.
// HSTS has no includeSubDomains: sibling hosts are not ours to pin.
var securityHeaders = map[string]string{
	"Strict-Transport-Security": "max-age=31536000",
	"X-Content-Type-Options":    "nosniff",
	"Referrer-Policy":           "strict-origin-when-cross-origin",
}

// spoofableHeaders are client-address headers the gateway does not walk
// like X-Forwarded-For: it answers 403 proxy_attribution_required when one
// is present (§13), and a client could otherwise choose what it says. They
// are deleted from every proxied request, WebSocket upgrades included.
var spoofableHeaders = []string{"Forwarded", "X-Real-IP"}

// cspFrameAncestors is added, not set: a second CSP header intersects with
// the gateway's own policy instead of replacing it.
const cspFrameAncestors = "frame-ancestors 'none'"

// ConfigJSON returns the Caddy config for o, built from Caddy's own types.
// Mode off yields a config with no apps (admin off, nothing listens).
func ConfigJSON(o Options) ([]byte, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	b := new(builder)
	mod := b.mod
	off := false
	cfg := caddy.Config{
		// No :2019 listener (it serves config unauthenticated and clashes
		// with a system Caddy) and no autosave.json in $XDG_CONFIG_HOME.
		Admin: &caddy.AdminConfig{Disabled: true, Config: &caddy.ConfigSettings{Persist: &off}},
	}
	if o.Mode == ModeOff {
		return b.marshal(cfg)
	}

	// All zap output goes to slog via our core; the discard writers make
	// Caddy's own encoders no-ops. The sink catches the std log package.
	discard := mod(struct{}{}, "output", "discard")
	core := mod(slogCore{Level: logLevel}, "module", "openclawd_slog")
	base := caddy.BaseLog{WriterRaw: discard, CoreRaw: core}
	cfg.Logging = &caddy.Logging{
		Sink: &caddy.SinkLog{BaseLog: base},
		Logs: map[string]*caddy.CustomLog{"default": {BaseLog: base}},
	}
	cfg.StorageRaw = mod(filestorage.FileStorage{Root: o.StorageDir}, "module", "file_system")

	apps := caddy.ModuleMap{
		"http": b.json(httpApp(o, b)),
		"tls":  b.json(tlsApp(o, b)),
	}
	if o.Mode == ModeInternal {
		// install_trust false: else Caddy tries to add its root to the OS store.
		apps["pki"] = b.json(caddypki.PKI{CAs: map[string]*caddypki.CA{
			"local": {InstallTrust: &off},
		}})
	}
	cfg.AppsRaw = apps
	return b.marshal(cfg)
}

// builder collects caddyconfig's encoding warnings, which are errors here.
type builder struct{ warns []caddyconfig.Warning }

func (b *builder) json(v any) json.RawMessage { return caddyconfig.JSON(v, &b.warns) }

// mod encodes a module value with its name under key ("handler", "module"…).
func (b *builder) mod(v any, key, name string) json.RawMessage {
	return caddyconfig.JSONModuleObject(v, key, name, &b.warns)
}

func httpApp(o Options, b *builder) caddyhttp.App {
	mod := b.mod
	hdrs := headers.Handler{Response: &headers.RespHeaderOps{
		HeaderOps: &headers.HeaderOps{Set: map[string][]string{}, Add: map[string][]string{
			"Content-Security-Policy": {cspFrameAncestors},
		}},
		Deferred: true, // applied at WriteHeader, over the gateway's values
	}}
	for k, v := range securityHeaders {
		hdrs.Response.Set[k] = []string{v}
	}
	proxy := reverseproxy.Handler{
		// HTTP proxying only, never layer 4: the gateway must see the
		// client through X-Forwarded-For. No trusted_proxies, so Caddy
		// overwrites any X-Forwarded-For the client sent.
		Upstreams:        reverseproxy.UpstreamPool{{Dial: net.JoinHostPort("127.0.0.1", strconv.Itoa(o.GatewayPort))}},
		StreamCloseDelay: caddy.Duration(streamCloseDelay),
		Headers: &headers.Handler{Request: &headers.HeaderOps{
			Delete: spoofableHeaders,
		}},
	}
	srv := &caddyhttp.Server{
		Listen:    []string{net.JoinHostPort(o.ListenHost, strconv.Itoa(o.HTTPSPort))},
		Protocols: []string{"h1", "h2"}, // the default adds h3, which binds UDP too
		// One default policy: certificates by SNI from the automation below.
		TLSConnPolicies: caddytls.ConnectionPolicies{{}},
		Routes: caddyhttp.RouteList{{
			// The host matcher is what makes automatic HTTPS manage the names.
			MatcherSetsRaw: caddyhttp.RawMatcherSets{{"host": b.json(caddyhttp.MatchHost(o.Domains))}},
			HandlersRaw: []json.RawMessage{
				mod(hdrs, "handler", "headers"),
				mod(gate{HealthPath: HealthPath}, "handler", "openclawd_gate"),
				mod(proxy, "handler", "reverse_proxy"),
			},
			Terminal: true,
		}},
		// A refused dial is a 502 error: turn it into the 503 page.
		Errors: &caddyhttp.HTTPErrorConfig{Routes: caddyhttp.RouteList{{
			HandlersRaw: []json.RawMessage{
				mod(hdrs, "handler", "headers"),
				mod(gate{OnError: true}, "handler", "openclawd_gate"),
			},
		}}},
	}
	// Automatic HTTPS adds its HTTP->HTTPS redirect routes to this server
	// (declared so it is h1 only); every Caddy server answers http-01.
	// Caddy would disable automatic HTTPS on it anyway, with a warning.
	plain := &caddyhttp.Server{
		Listen:    []string{net.JoinHostPort(o.ListenHost, strconv.Itoa(o.HTTPPort))},
		Protocols: []string{"h1"},
		AutoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true},
		// Reach tokens over plain HTTP too: doctor proves port 80 (which
		// ACME's http-01 needs) as well as 443.
		Routes: caddyhttp.RouteList{{
			// The host matcher puts this route before the redirects that
			// automatic HTTPS inserts after the last route with one.
			MatcherSetsRaw: caddyhttp.RawMatcherSets{{"host": b.json(caddyhttp.MatchHost(o.Domains)),
				"path": b.json(caddyhttp.MatchPath{ReachPrefix + "*"})}},
			HandlersRaw: []json.RawMessage{mod(gate{ReachOnly: true}, "handler", "openclawd_gate")},
			Terminal:    true,
		}},
	}
	return caddyhttp.App{
		HTTPPort:    o.HTTPPort,
		HTTPSPort:   o.HTTPSPort,
		GracePeriod: caddy.Duration(gracePeriod),
		Servers:     map[string]*caddyhttp.Server{serverName: srv, serverName + "_http": plain},
	}
}

func tlsApp(o Options, b *builder) caddytls.TLS {
	mod := b.mod
	var issuer json.RawMessage
	if o.Mode == ModeInternal {
		issuer = mod(caddytls.InternalIssuer{CA: "local"}, "module", "internal")
	} else {
		iss := caddytls.ACMEIssuer{
			CA:      o.ACMECA,
			Email:   o.Email,
			Profile: o.ACMEProfile,
			Challenges: &caddytls.ChallengesConfig{
				HTTP:     &caddytls.HTTPChallengeConfig{Disabled: o.DisableHTTPChallenge, AlternatePort: o.HTTPPort},
				TLSALPN:  &caddytls.TLSALPNChallengeConfig{Disabled: o.DisableTLSALPN, AlternatePort: o.HTTPSPort},
				BindHost: o.ListenHost,
			},
		}
		if o.ACMECARoot != "" {
			iss.TrustedRootsPEMFiles = []string{o.ACMECARoot}
		}
		issuer = mod(iss, "module", "acme")
	}
	return caddytls.TLS{Automation: &caddytls.AutomationConfig{
		Policies:           []*caddytls.AutomationPolicy{{SubjectsRaw: o.Domains, IssuersRaw: []json.RawMessage{issuer}}},
		RenewCheckInterval: caddy.Duration(o.RenewInterval),
	}}
}

func (b *builder) marshal(cfg caddy.Config) ([]byte, error) {
	if len(b.warns) > 0 {
		var errs []error
		for _, w := range b.warns {
			errs = append(errs, errors.New(w.String()))
		}
		return nil, fmt.Errorf("building caddy config: %w", errors.Join(errs...))
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding caddy config: %w", err)
	}
	return append(out, '\n'), nil
}

// RootCertPath is the internal CA's root certificate, which clients must
// trust in internal mode. It exists once Start has issued a certificate.
func (s *Server) RootCertPath() string {
	return filepath.Join(s.opts.StorageDir, "pki", "authorities", "local", "root.crt")
}
