package embedcaddy

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// issue starts Caddy for o and waits until it serves a certificate that
// chains to Pebble's issuing root.
func issue(t *testing.T, p *pebbleEnv, s *Server, o Options) *x509.Certificate {
	t.Helper()
	start := time.Now()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	roots := p.roots(t)
	var leaf *x509.Certificate
	waitFor(t, 60*time.Second, "certificate from pebble for "+o.Domains[0], func() (err error) {
		leaf, err = handshake(roots, o.Domains[0], o.HTTPSPort)
		return err
	})
	t.Logf("%s: certificate served %v after Start (serial %x)", o.Domains[0], time.Since(start).Round(time.Millisecond), leaf.SerialNumber)
	return leaf
}

func newStopped(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// Case 1: http-01 only, then HTTPS, headers, redirect and a WebSocket
// round trip through Caddy, all checked against Pebble's root.
func TestACMEHTTP01(t *testing.T) {
	p := needPebble(t)
	gw := freePort(t)
	upstream(t, gw)
	o := p.options(t, "http01.openclawd.test", gw)
	o.DisableTLSALPN = true
	var logs *logCapture
	o.Logger, logs = testLogger(t)
	before := p.Orders()
	s := newStopped(t, o)
	leaf := issue(t, p, s, o)
	if !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("issuer %q, want Pebble's", leaf.Issuer.CommonName)
	}
	if n := p.Orders() - before; n != 1 {
		t.Errorf("%d orders, want 1", n)
	}

	roots := p.roots(t)
	hc := client(roots, "")
	base := "https://" + net.JoinHostPort(o.Domains[0], strconv.Itoa(o.HTTPSPort))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(base, "https", "wss", 1)+"/ws", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("websocket through caddy: %v", err)
	}
	if err := echo(ctx, c, "hello over wss"); err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	resp, body, err := get(hc, base+"/")
	if err != nil || resp.StatusCode != http.StatusOK || body != "hello from upstream" {
		t.Fatalf("GET /: %v %v %q", err, resp, body)
	}
	checkSecurityHeaders(t, resp.Header)

	resp, _, err = get(hc, fmt.Sprintf("http://%s:%d/chat?x=1", o.Domains[0], o.HTTPPort))
	if err != nil || resp.StatusCode != http.StatusPermanentRedirect ||
		resp.Header.Get("Location") != "https://"+o.Domains[0]+"/chat?x=1" {
		t.Errorf("http redirect: %v %v %q", err, resp, resp.Header.Get("Location"))
	}

	ci := s.Certificates()
	if len(ci) != 1 || ci[0].Name != o.Domains[0] || ci[0].Issuer != leaf.Issuer.CommonName ||
		!ci[0].NotAfter.Equal(leaf.NotAfter) || ci[0].DaysLeft < 80 || ci[0].LastError != "" {
		t.Errorf("Certificates() = %+v", ci)
	}
	if !logs.has("challenge_type=http-01") || logs.has("challenge_type=tls-alpn-01") {
		t.Error("caddy's log shows no http-01 (or a tls-alpn-01) challenge")
	}
	if !logs.has("certificate obtained successfully") {
		t.Error("caddy's zap log did not reach slog")
	}
}

// Case 2: tls-alpn-01 only.
func TestACMETLSALPN(t *testing.T) {
	p := needPebble(t)
	o := p.options(t, "alpn.openclawd.test", freePort(t))
	o.DisableHTTPChallenge = true
	var logs *logCapture
	o.Logger, logs = testLogger(t)
	before := p.Orders()
	issue(t, p, newStopped(t, o), o)
	if n := p.Orders() - before; n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	if !logs.has("challenge_type=tls-alpn-01") || logs.has("challenge_type=http-01") {
		t.Error("caddy's log shows no tls-alpn-01 (or an http-01) challenge")
	}
}

// Case 3: the certificate survives Stop+Start: same serial, no new order.
func TestACMERestartNoNewOrder(t *testing.T) {
	p := needPebble(t)
	o := p.options(t, "restart.openclawd.test", freePort(t))
	o.Logger, _ = testLogger(t)
	s := newStopped(t, o)
	first := issue(t, p, s, o)
	orders := p.Orders()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.HTTPSPort))); err == nil {
		c.Close()
		t.Fatal("port still open after Stop")
	}
	// Stopped, the key still comes from storage (status and checks use it).
	if !slices.Contains(s.KeyPins(o.Domains[0]), sha256.Sum256(first.RawSubjectPublicKeyInfo)) {
		t.Errorf("KeyPins after Stop lacks the stored certificate's key")
	}
	second := issue(t, p, s, o)
	if first.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Errorf("serial %x after restart, want %x", second.SerialNumber, first.SerialNumber)
	}
	if n := p.Orders() - orders; n != 0 {
		t.Errorf("%d new orders after restart, want 0", n)
	}
}

// A certificate from a short-lived profile is renewed before it expires,
// with no restart: the served serial changes while the old one is valid.
func TestACMERenewShortLived(t *testing.T) {
	p := needPebble(t)
	o := p.options(t, "short.openclawd.test", freePort(t))
	o.ACMEProfile, o.RenewInterval = "shortlived", time.Second
	o.Logger, _ = testLogger(t)
	s := newStopped(t, o)
	first := issue(t, p, s, o)
	if life := first.NotAfter.Sub(first.NotBefore); life > 2*shortLived {
		t.Fatalf("certificate valid for %v; the shortlived profile gives %v", life, shortLived)
	}
	orders := p.Orders()
	roots := p.roots(t)
	var next *x509.Certificate
	waitFor(t, 2*shortLived, "a renewed certificate", func() (err error) {
		if next, err = handshake(roots, o.Domains[0], o.HTTPSPort); err != nil {
			return err
		}
		if next.SerialNumber.Cmp(first.SerialNumber) == 0 {
			return fmt.Errorf("still serial %x, valid until %s", first.SerialNumber, first.NotAfter.Format(time.TimeOnly))
		}
		return nil
	})
	if seen := time.Now(); !seen.Before(first.NotAfter) {
		t.Errorf("the new certificate appeared at %s, after the old one expired at %s", seen.Format(time.TimeOnly), first.NotAfter.Format(time.TimeOnly))
	}
	if n := p.Orders() - orders; n < 1 {
		t.Errorf("%d new orders for the renewal, want at least 1", n)
	}
	t.Logf("renewed %v before expiry", time.Until(first.NotAfter).Round(time.Second))
	// The self-check pins keys: the renewed one must be known as ours.
	// (Polled: another renewal may land between the handshake and KeyPins.)
	waitFor(t, 10*time.Second, "the served key in KeyPins", func() error {
		leaf, err := handshake(roots, o.Domains[0], o.HTTPSPort)
		if err != nil {
			return err
		}
		if pins := s.KeyPins(o.Domains[0]); !slices.Contains(pins, sha256.Sum256(leaf.RawSubjectPublicKeyInfo)) {
			return fmt.Errorf("KeyPins = %x lacks serial %x's key", pins, leaf.SerialNumber)
		}
		return nil
	})
	t.Logf("key rotated at renewal: %v", string(first.RawSubjectPublicKeyInfo) != string(next.RawSubjectPublicKeyInfo))
}

// A failing order shows up in Certificates().LastError (from the events).
func TestACMEFailureReported(t *testing.T) {
	p := needPebble(t)
	o := p.options(t, "blocked.openclawd.test", freePort(t)) // on Pebble's blocklist
	o.Logger, _ = testLogger(t)
	s := startServer(t, o)
	waitFor(t, 30*time.Second, "cert_failed event", func() error {
		if ci := s.Certificates(); len(ci) != 1 || ci[0].LastError == "" {
			return fmt.Errorf("Certificates() = %+v", ci)
		}
		return nil
	})
	ci := s.Certificates()[0]
	if !ci.NotAfter.IsZero() || ci.LastErrorAt.IsZero() || !strings.Contains(ci.LastError, "blocked") {
		t.Errorf("Certificates() = %+v", ci)
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Strict-Transport-Security": "max-age=31536000",
		"X-Content-Type-Options":    "nosniff",
		"Referrer-Policy":           "strict-origin-when-cross-origin",
		"Content-Security-Policy":   "frame-ancestors 'none'",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}
