package embedcaddy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// internalOpts returns internal-mode options on free 127.0.0.1 ports.
func internalOpts(t testing.TB, gw int, names ...string) Options {
	l, _ := testLogger(t)
	return Options{
		Mode: ModeInternal, Domains: names, ListenHost: "127.0.0.1",
		HTTPPort: freePort(t), HTTPSPort: freePort(t), GatewayPort: gw,
		StorageDir: t.TempDir(), Logger: l,
	}
}

// internalRoots waits for the local CA and the leaf for name, and returns
// a pool with RootCertPath only.
func internalRoots(t testing.TB, s *Server, name string) *x509.CertPool {
	t.Helper()
	var pool *x509.CertPool
	waitFor(t, 10*time.Second, "internal certificate for "+name, func() error {
		b, err := os.ReadFile(s.RootCertPath())
		if err != nil {
			return err
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return errors.New("no PEM in root.crt")
		}
		_, err = handshake(pool, name, s.opts.HTTPSPort)
		return err
	})
	return pool
}

func base(o Options, name string) string {
	return "https://" + net.JoinHostPort(name, strconv.Itoa(o.HTTPSPort))
}

// Case 4: internal mode; the served chain verifies against RootCertPath.
func TestInternalMode(t *testing.T) {
	gw := freePort(t)
	upstream(t, gw)
	o := internalOpts(t, gw, "claw.localhost", "127.0.0.1")
	s := startServer(t, o)
	// Start returns once Caddy listens.
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.HTTPSPort)))
	if err != nil {
		t.Fatalf("not listening after Start: %v", err)
	}
	c.Close()
	roots := internalRoots(t, s, "claw.localhost")
	resp, body, err := get(client(roots, ""), base(o, "claw.localhost")+"/")
	if err != nil || resp.StatusCode != http.StatusOK || body != "hello from upstream" {
		t.Fatalf("GET /: %v %v %q", err, resp, body)
	}
	checkSecurityHeaders(t, resp.Header)
	// By IP: no SNI is sent; the leaf must carry the IP SAN.
	if _, err := handshake(roots, "127.0.0.1", o.HTTPSPort); err != nil {
		t.Errorf("handshake by IP: %v", err)
	}
	ci := s.Certificates()
	if len(ci) != 2 || !strings.Contains(ci[0].Issuer, "Caddy Local Authority") || time.Until(ci[0].NotAfter) <= 0 {
		t.Errorf("Certificates() = %+v", ci)
	}

	// One owner: a second Server can't load while this one runs.
	other, _ := New(internalOpts(t, gw, "other.localhost"))
	if err := other.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "another Server") {
		t.Errorf("second Server started: %v", err)
	}
	// Stop is idempotent and frees the port; Start works again.
	for range 2 {
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.HTTPSPort))); err == nil {
		c.Close()
		t.Fatal("still listening after Stop")
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	internalRoots(t, s, "claw.localhost")
}

// Case 5: gateway down gives the 503 page and a 503 health endpoint, never
// a 502; once up, 200.
func TestGatewayDown(t *testing.T) {
	gw := freePort(t) // nothing listens yet
	var healthy atomic.Bool
	o := internalOpts(t, gw, "claw.localhost")
	o.Healthy = healthy.Load
	s := startServer(t, o)
	hc := client(internalRoots(t, s, "claw.localhost"), "")
	url := base(o, "claw.localhost")

	check := func(what string, wantHealth int, wantBody string) {
		t.Helper()
		resp, body, err := get(hc, url+HealthPath)
		if err != nil || resp.StatusCode != wantHealth || body != "" {
			t.Errorf("%s: health: %v %v %q", what, err, resp, body)
		}
		resp, body, err = get(hc, url+"/chat")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if wantBody == "" { // the 503 page
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" ||
				!strings.Contains(body, "OpenClaw is starting") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: got %v %q, want the 503 page", what, resp, body)
			}
		} else if resp.StatusCode != http.StatusOK || body != wantBody {
			t.Errorf("%s: got %v %q", what, resp, body)
		}
		checkSecurityHeaders(t, resp.Header)
	}
	check("unhealthy", http.StatusServiceUnavailable, "")
	healthy.Store(true) // probe says up, but the dial is refused: handle_errors
	check("refused", http.StatusOK, "")
	upstream(t, gw)
	check("up", http.StatusOK, "hello from upstream")
}

// Case 6: a spoofed X-Forwarded-For is overwritten with the real client
// address (127.0.0.2 here, so it differs from the spoof).
func TestForwardedForOverwritten(t *testing.T) {
	gw := freePort(t)
	upstream(t, gw)
	o := internalOpts(t, gw, "claw.localhost")
	s := startServer(t, o)
	hc := client(internalRoots(t, s, "claw.localhost"), "127.0.0.2")
	for _, spoof := range []string{"127.0.0.1", "203.0.113.5, 127.0.0.1"} {
		resp, body, err := get(hc, base(o, "claw.localhost")+"/xff", "X-Forwarded-For", spoof)
		if err != nil || resp.StatusCode != http.StatusOK || body != "127.0.0.2" {
			t.Errorf("spoof %q: upstream saw X-Forwarded-For %q (%v %v), want 127.0.0.2", spoof, body, err, resp)
		}
	}
}

// Case 6b: Forwarded and X-Real-IP from the client never reach the gateway,
// in plain requests and WebSocket upgrades: it refuses requests carrying
// them, and a client must not choose its own attribution.
func TestSpoofableHeadersStripped(t *testing.T) {
	cfg, err := ConfigJSON(internalOpts(t, 18789, "claw.localhost"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `"delete": [
                        "Forwarded",
                        "X-Real-IP"
                      ]`) {
		t.Errorf("reverse_proxy does not delete Forwarded and X-Real-IP:\n%s", cfg)
	}

	gw := freePort(t)
	upstream(t, gw)
	o := internalOpts(t, gw, "claw.localhost")
	s := startServer(t, o)
	hc := client(internalRoots(t, s, "claw.localhost"), "127.0.0.2")
	spoof := http.Header{}
	spoof.Set("Forwarded", "for=127.0.0.1")
	spoof.Set("X-Real-IP", "127.0.0.1")
	spoof.Set("X-Forwarded-For", "127.0.0.1")
	want := "Forwarded=\nX-Real-IP=\nX-Forwarded-For=127.0.0.2\n"

	req, _ := http.NewRequest(http.MethodGet, base(o, "claw.localhost")+"/seen", nil)
	req.Header = spoof.Clone()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != want {
		t.Errorf("GET: upstream saw %q (%v %v), want %q", body, err, resp.Status, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wsURL := strings.Replace(base(o, "claw.localhost"), "https", "wss", 1) + "/seen"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: spoof})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, got, err := c.Read(ctx)
	if err != nil || string(got) != want {
		t.Errorf("WebSocket upgrade: upstream saw %q (%v), want %q", got, err, want)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// Case 7: Reload keeps an established WebSocket open.
func TestReloadKeepsWebSocket(t *testing.T) {
	gw := freePort(t)
	upstream(t, gw)
	o := internalOpts(t, gw, "claw.localhost")
	s := startServer(t, o)
	hc := client(internalRoots(t, s, "claw.localhost"), "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wsURL := strings.Replace(base(o, "claw.localhost"), "https", "wss", 1) + "/ws"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := echo(ctx, c, "before"); err != nil {
		t.Fatal(err)
	}
	o2 := o
	o2.Domains = []string{"claw.localhost", "second.localhost"} // a real change
	start := time.Now()
	if err := s.Reload(o2); err != nil {
		t.Fatal(err)
	}
	t.Logf("reload took %v", time.Since(start).Round(time.Microsecond))
	internalRoots(t, s, "second.localhost") // the new config is live
	for i := range 3 {
		if err := echo(ctx, c, fmt.Sprintf("after reload %d", i)); err != nil {
			t.Fatalf("websocket after reload: %v", err)
		}
	}
	// A failed reload (port taken) keeps the old config serving.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o3 := o2
	o3.HTTPSPort = ln.Addr().(*net.TCPAddr).Port
	if err := s.Reload(o3); err == nil {
		t.Fatal("Reload onto a busy port succeeded")
	}
	if err := echo(ctx, c, "after failed reload"); err != nil {
		t.Fatal(err)
	}
}

// Start names the busy port and its config key.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := internalOpts(t, freePort(t), "claw.localhost")
	o.HTTPSPort = ln.Addr().(*net.TCPAddr).Port
	s, _ := New(o)
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "tls.https_port") || !strings.Contains(err.Error(), "already in use") ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d (", os.Getpid())) {
		t.Fatalf("Start: %v", err)
	}
	t.Log(err)
	if err := s.Stop(context.Background()); err != nil { // safe after a failed Start
		t.Fatal(err)
	}
}

// Mode off: Start is a no-op and nothing listens.
func TestModeOff(t *testing.T) {
	o := internalOpts(t, freePort(t))
	o.Mode = ModeOff
	s := startServer(t, o)
	for _, p := range []int{o.HTTPPort, o.HTTPSPort} {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			c.Close()
			t.Errorf("port %d listens in mode off", p)
		}
	}
	if s.Certificates() != nil {
		t.Error("Certificates in mode off")
	}
}
