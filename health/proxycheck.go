package health

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Proxy check result codes: ProxyOK, or what a remote client would run
// into. They are stable: status JSON and docs use them.
const (
	ProxyOK            = "ok"
	ProxyDNSUnresolved = "dns_unresolved"       // the name has no address
	ProxyLoopback      = "resolves_to_loopback" // the name points at 127.0.0.1 or ::1
	ProxyUnreachable   = "unreachable"          // no TCP connection to the https port
	ProxyCertUntrusted = "certificate_not_trusted"
	ProxyCertName      = "certificate_name_mismatch"
	ProxyCertExpired   = "certificate_expired"
	ProxyNotThisHost   = "not_this_host"        // a trusted certificate, but not this host's Caddy's: no token sent
	ProxyTLS           = "tls_handshake_failed" // e.g. no certificate issued yet
	ProxyGatewayDown   = "gateway_unavailable"  // the 503 page, or the gateway starting
	ProxyAttribution   = "proxy_attribution_required"
	ProxyUpgrade       = "upgrade_refused" // some other HTTP answer to the upgrade
	ProxyOrigin        = "origin_not_allowed"
	ProxyPairing       = "pairing_required"
	ProxyToken         = "token_rejected"
	ProxyRateLimited   = "rate_limited"
	ProxyRefused       = "gateway_refused" // another refusal code, named in Detail
	ProxyProtocol      = "protocol_error"
)

// ProxyCheckOptions describe one wss:// handshake through the public front
// end, made the way a remote browser would: TLS with SNI, the served
// name's Origin, and the gateway's connect with the token.
type ProxyCheckOptions struct {
	Name    string         // served name: SNI, Host and Origin
	Port    int            // the https port (default 443)
	Address string         // host or IP to dial instead of Name's DNS address; may carry a port
	Roots   *x509.CertPool // nil: the system's roots
	Token   string
	Timeout time.Duration // the whole check (default 15s)
	// Dial makes the TCP connection; nil is a plain net.Dialer (tests dial
	// from another network namespace).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolver looks Name up when Address is empty; nil is net.DefaultResolver.
	Resolver Resolver
	// OwnKeys returns the SHA-256 of the SubjectPublicKeyInfo of each
	// certificate this host's front end holds for Name (embedcaddy's
	// Server.KeyPins). It is called during the handshake, after the chain
	// verified; the request, and so the token, goes only to a server whose
	// leaf's key is among them. Nil or empty: no server is this host, and
	// the check ends at ProxyNotThisHost.
	OwnKeys func() [][sha256.Size]byte
}

// Resolver is the part of *net.Resolver the check uses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ProxyResult is one check's outcome.
type ProxyResult struct {
	Name    string
	Code    string // ProxyOK or one of the problem codes
	Detail  string // human text: what was seen
	Address string // host:port dialled, "" when none was
	At      time.Time
}

// OK reports whether a remote client would get through.
func (r ProxyResult) OK() bool { return r.Code == ProxyOK }

// CheckProxy dials wss://Name through the front end and completes the
// gateway's handshake. A token-only client from a remote address gets
// hello-ok with no scopes (§13); anything else is classified.
//
// The gateway refuses local clients that come through the proxy (§13), so
// a name that resolves to loopback is reported, not dialled: the answer
// would say nothing about remote clients.
func CheckProxy(ctx context.Context, o ProxyCheckOptions) ProxyResult {
	if o.Port == 0 {
		o.Port = 443
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res := ProxyResult{Name: o.Name, At: time.Now()}
	fail := func(code, format string, args ...any) ProxyResult {
		res.Code, res.Detail = code, fmt.Sprintf(format, args...)
		return res
	}

	addr, code, detail := proxyAddress(ctx, o)
	if code != "" {
		return fail(code, "%s", detail)
	}
	res.Address = addr

	hostport := o.Name
	if o.Port != 443 {
		hostport = net.JoinHostPort(o.Name, strconv.Itoa(o.Port))
	}
	// A name that resolves elsewhere, or something in between with a
	// certificate from a trusted CA, must never see the token: the
	// handshake fails unless the leaf's key is this host's Caddy's.
	pin := &keyPin{own: o.OwnKeys}
	tr := &http.Transport{
		Proxy: nil, // the check is about this host's front end, not an egress proxy
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			if o.Dial != nil {
				return o.Dial(ctx, network, addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{ServerName: o.Name, RootCAs: o.Roots, MinVersion: tls.VersionTLS12,
			VerifyConnection: pin.verify},
	}
	defer tr.CloseIdleConnections()
	h := http.Header{}
	h.Set("Origin", "https://"+hostport) // as the Control UI in a browser sends it
	conn, resp, err := websocket.Dial(ctx, "wss://"+hostport+"/", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr}, HTTPHeader: h,
	})
	if err != nil {
		if d := pin.describe(o.Name, addr); d != "" {
			return fail(ProxyNotThisHost, "%s", d)
		}
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			code := upgradeCode(resp.StatusCode, body)
			if host, _, _ := net.SplitHostPort(addr); code == ProxyAttribution && isLoopback(host) {
				// The gateway refuses local clients that come through the
				// proxy by design (§13): not a misconfiguration.
				return fail(ProxyLoopback, "%s is this host's loopback, and the gateway refuses local clients through the proxy", host)
			}
			return fail(code, "HTTP %d to the WebSocket upgrade: %s", resp.StatusCode, oneLine(body))
		}
		c, d := dialCode(err)
		return fail(c, "%s", d)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	if _, err := connect(ctx, conn, o.Token); err != nil {
		var r *refusal
		if errors.As(err, &r) {
			return fail(refusalCode(r.code), "the gateway answered %s: %s", r.code, r.message)
		}
		switch websocket.CloseStatus(err) {
		case websocket.StatusServiceRestart, websocket.StatusTryAgainLater:
			return fail(ProxyGatewayDown, "the gateway is restarting: %v", err)
		}
		return fail(ProxyProtocol, "%v", err)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	res.Code, res.Detail = ProxyOK, "hello-ok through the proxy"
	return res
}

// keyPin checks the served leaf against this host's keys. The lock is for
// a handshake the transport lets finish in the background after a timeout.
type keyPin struct {
	own     func() [][sha256.Size]byte
	mu      sync.Mutex
	ours    int               // how many keys own returned
	foreign *x509.Certificate // the served leaf, when it was not ours
}

var errNotThisHost = errors.New("the served certificate is not this host's")

// verify is tls.Config.VerifyConnection: it runs after the chain and name
// verified (or not at all), and failing it sends no request.
func (p *keyPin) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errNotThisHost
	}
	leaf := cs.PeerCertificates[0]
	var own [][sha256.Size]byte
	if p.own != nil {
		own = p.own()
	}
	got := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	if slices.Contains(own, got) {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ours, p.foreign = len(own), leaf
	return errNotThisHost
}

// describe says what was served, or "" if the leaf was ours (or none came).
func (p *keyPin) describe(name, addr string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.foreign
	if l == nil {
		return ""
	}
	k := sha256.Sum256(l.RawSubjectPublicKeyInfo)
	d := fmt.Sprintf("%s answers for %s with a valid certificate (issuer %q, key sha256 %x…) that is not this host's Caddy's, so the token was not sent", addr, name, l.Issuer.CommonName, k[:8])
	if p.ours == 0 {
		d += "; this host's Caddy holds no certificate for " + name + " yet"
	}
	return d
}

// proxyAddress picks the host:port to dial, or a code saying why none.
func proxyAddress(ctx context.Context, o ProxyCheckOptions) (addr, code, detail string) {
	port := strconv.Itoa(o.Port)
	if o.Address != "" {
		if h, p, err := net.SplitHostPort(o.Address); err == nil {
			return net.JoinHostPort(h, p), "", ""
		}
		return net.JoinHostPort(strings.Trim(o.Address, "[]"), port), "", ""
	}
	if ip, err := netip.ParseAddr(o.Name); err == nil { // an IP name (internal mode)
		if ip.IsLoopback() {
			return "", ProxyLoopback, fmt.Sprintf("%s is a loopback address", o.Name)
		}
		return net.JoinHostPort(ip.String(), port), "", ""
	}
	var r Resolver = net.DefaultResolver
	if o.Resolver != nil {
		r = o.Resolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", o.Name)
	if err != nil || len(ips) == 0 {
		return "", ProxyDNSUnresolved, fmt.Sprintf("%s does not resolve: %v", o.Name, err)
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return net.JoinHostPort(ip.Unmap().String(), port), "", ""
		}
	}
	return "", ProxyLoopback, fmt.Sprintf("%s resolves to %v only", o.Name, ips)
}

// upgradeCode classifies an HTTP answer to the upgrade request.
func upgradeCode(status int, body []byte) string {
	switch {
	case status == http.StatusForbidden && strings.Contains(string(body), "proxy_attribution_required"):
		return ProxyAttribution
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return ProxyGatewayDown
	}
	return ProxyUpgrade
}

// dialCode classifies a failed dial or TLS handshake.
func dialCode(err error) (string, string) {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var op *net.OpError
	switch {
	case errors.As(err, &unknown):
		return ProxyCertUntrusted, "the served certificate does not chain to a trusted root: " + unknown.Error()
	case errors.As(err, &host):
		return ProxyCertName, host.Error()
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return ProxyCertExpired, invalid.Error()
	case errors.As(err, &invalid):
		return ProxyCertUntrusted, invalid.Error()
	case errors.As(err, &op) && op.Op == "dial":
		return ProxyUnreachable, op.Error()
	}
	var alert tls.AlertError
	var rec tls.RecordHeaderError
	if errors.As(err, &alert) || errors.As(err, &rec) || strings.Contains(err.Error(), "tls:") {
		return ProxyTLS, err.Error()
	}
	return ProxyUnreachable, err.Error()
}

// refusalCode maps the gateway's connect refusals (§12) to check codes.
func refusalCode(code string) string {
	switch code {
	case "PAIRING_REQUIRED", "NOT_PAIRED", "DEVICE_IDENTITY_REQUIRED":
		return ProxyPairing
	case "CONTROL_UI_ORIGIN_NOT_ALLOWED":
		return ProxyOrigin
	case "AUTH_TOKEN_MISMATCH", "AUTH_TOKEN_MISSING":
		return ProxyToken
	case "AUTH_RATE_LIMITED":
		return ProxyRateLimited
	case "UNAVAILABLE":
		return ProxyGatewayDown
	}
	return ProxyRefused
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
