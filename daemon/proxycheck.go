package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// proxyChecks runs the wss:// self-check through the embedded Caddy: when
// the gateway becomes healthy, after a reload, every tls.check_interval,
// and sooner after a failure (certificates may still be on their way).
type proxyChecks struct {
	now chan struct{} // buffered 1: a pending request is enough

	mu      sync.Mutex
	results map[string]health.ProxyResult // by name
}

func newProxyChecks() *proxyChecks {
	return &proxyChecks{now: make(chan struct{}, 1), results: map[string]health.ProxyResult{}}
}

// trigger asks for a check soon; it never blocks.
func (p *proxyChecks) trigger() {
	select {
	case p.now <- struct{}{}:
	default:
	}
}

func (p *proxyChecks) result(name string) (health.ProxyResult, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.results[name]
	return r, ok
}

// record stores r as name's result and returns the one it replaces.
func (p *proxyChecks) record(name string, r health.ProxyResult) (prev health.ProxyResult, seen bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, seen = p.results[name]
	p.results[name] = r
	return prev, seen
}

// run loops until ctx ends. Each name's result is logged when its code
// changes, not at every check.
func (d *Daemon) runProxyChecks(ctx context.Context) {
	failures := 0
	var wait <-chan time.Time // nil until the first trigger: the gateway's first healthy moment
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.checks.now:
		case <-wait:
		}
		cfg := d.config()
		if cfg.TLS.CheckInterval <= 0 || d.caddy == nil {
			wait = nil
			continue
		}
		if !d.gatewayHealthy() { // the answer would only be the starting page
			wait = time.After(5 * time.Second)
			continue
		}
		allOK := true
		for _, name := range cfg.TLS.Domain {
			r := health.CheckProxy(ctx, d.proxyCheckOptions(cfg, name))
			if ctx.Err() != nil {
				return
			}
			allOK = allOK && r.OK()
			switch prev, seen := d.checks.record(name, r); {
			case seen && prev.Code == r.Code:
			case r.OK():
				d.log.Info("wss:// through the front end works, as a remote client sees it", "name", name, "address", r.Address)
			default:
				d.log.Warn("wss:// through the front end fails for remote clients", "name", name, "code", r.Code, "detail", r.Detail, "address", r.Address)
			}
		}
		next := cfg.TLS.CheckInterval
		if allOK {
			failures = 0
		} else {
			// Sooner after a failure: a certificate may be on its way.
			next = min(next, 10*time.Second<<min(failures, 8))
			failures++
		}
		wait = time.After(next)
	}
}

func (d *Daemon) proxyCheckOptions(cfg *config.Config, name string) health.ProxyCheckOptions {
	o := health.ProxyCheckOptions{Name: name, Port: cfg.TLS.HTTPSPort, Address: cfg.TLS.CheckAddress, Token: d.currentToken()}
	if d.caddy != nil {
		// The token goes only to this host's own Caddy, never to whatever
		// else answers for the name.
		caddy := d.caddy
		o.OwnKeys = func() [][sha256.Size]byte { return caddy.KeyPins(name) }
	}
	if cfg.TLS.Mode == "internal" && d.caddy != nil {
		// Clients of the local CA trust its root explicitly; so does the check.
		if pem, err := os.ReadFile(d.caddy.RootCertPath()); err == nil {
			o.Roots = x509.NewCertPool()
			o.Roots.AppendCertsFromPEM(pem)
		}
	}
	return o
}

// proxyWarning turns a name's failed check, as status shows it, into a
// warning with its fix.
func proxyWarning(cfg *config.Config, name string, r *apitype.ProxyCheck, rootCert string) *apitype.Warning {
	if r == nil || r.Code == health.ProxyOK {
		return nil
	}
	restart := "openclawd writes it at each gateway start: run `sudo openclawd restart`."
	fixes := map[string]string{
		health.ProxyDNSUnresolved: fmt.Sprintf("Point a DNS A/AAAA record for %s at this host's public address. If the check should dial another address, set tls.check_address.", name),
		health.ProxyLoopback:      fmt.Sprintf("%s resolves to this host's loopback, which remote clients can't use: fix its DNS record (or /etc/hosts), or set tls.check_address to this host's LAN or public address.", name),
		health.ProxyUnreachable:   fmt.Sprintf("Open TCP port %d (and %d for ACME) in the firewall, e.g. `ufw allow %d/tcp`; behind NAT, forward them, and set tls.check_address to the LAN address if the router does not hairpin.", cfg.TLS.HTTPSPort, cfg.TLS.HTTPPort, cfg.TLS.HTTPSPort),
		health.ProxyCertUntrusted: "The served certificate is not trusted yet: see the certificate's last error above; openclawd keeps trying to obtain one.",
		health.ProxyCertName:      "The served certificate is for another name: see the certificate's last error above and `openclawd logs -n 100`.",
		health.ProxyNotThisHost:   fmt.Sprintf("The name resolves to another host (or something in between answers with a valid certificate): point DNS for %s at this host, or set tls.check_address to this host's own address (also if a CDN or load balancer terminates TLS in front of it). openclawd did not send it the gateway token.", name),
		health.ProxyCertExpired:   "The certificate has expired and was not renewed: see its last error above; ports 80 and 443 must reach this host for ACME.",
		health.ProxyTLS:           "No certificate is served yet: see the certificate's last error above; ports 80 and 443 must reach this host for ACME challenges.",
		health.ProxyGatewayDown:   "The gateway behind the proxy is not up: see the gateway section above.",
		health.ProxyAttribution:   `The gateway does not trust openclawd's proxy: gateway.trustedProxies in openclaw.json must be ["127.0.0.1","::1"]; ` + restart,
		health.ProxyOrigin:        fmt.Sprintf("gateway.controlUi.allowedOrigins in openclaw.json must list %v; %s", cfg.TLS.Origins(), restart),
		health.ProxyPairing:       "The gateway asks remote clients to pair: pair a browser with the single-use link of `sudo openclawd pair`, or list requests with `sudo openclawd devices` and approve one with `sudo openclawd devices approve <requestId>`. Never turn auth off instead.",
		health.ProxyToken:         "The gateway refused openclawd's token through the proxy: remove gateway.auth.token from openclaw.json (openclawd passes the token itself), then `sudo openclawd restart`.",
		health.ProxyRateLimited:   "The gateway locked out remote logins after repeated failures; it lifts after 5 minutes. Find the client with the wrong token in `openclawd logs`.",
	}
	fix, ok := fixes[r.Code]
	if !ok {
		fix = "Read `openclawd logs -n 100` for the gateway's side of it."
	}
	if r.Code == health.ProxyCertUntrusted && cfg.TLS.Mode == "internal" && rootCert != "" {
		fix = fmt.Sprintf("The served chain does not verify against Caddy's local root %s: see `openclawd logs -n 100`.", rootCert)
	}
	return &apitype.Warning{Code: r.Code, Severity: "warning",
		Text: fmt.Sprintf("remote clients can't use wss://%s: %s", name, r.Detail), Fix: fix}
}
