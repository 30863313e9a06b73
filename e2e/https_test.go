package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// TestHTTPSInFront runs openclawd with tls.mode internal: a client that
// trusts the root certificate status names completes the gateway's
// WebSocket handshake through Caddy, sees the starting page while the
// gateway is down, and gets through again after recovery.
func TestHTTPSInFront(t *testing.T) {
	t.Parallel()
	const name = "gw.openclawd.test"
	httpsPort, httpPort := freePort(t), freePort(t)
	in := newInstance(t, opts{extraCfg: fmt.Sprintf("tls:\n  mode: internal\n  domain: [%s]\n  http_port: %d\n  https_port: %d\n  listen: 127.0.0.1\n",
		name, httpPort, httpsPort)})
	st := in.waitHealthy()
	if st.TLS == nil || st.TLS.Mode != "internal" || st.TLS.RootCert == "" {
		t.Fatalf("status tls = %+v; want internal mode with a root certificate", st.TLS)
	}
	pem, err := os.ReadFile(st.TLS.RootCert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("root certificate does not parse")
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: name},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort))
		},
	}}
	base := fmt.Sprintf("https://%s:%d", name, httpsPort)

	handshake := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(base, "https")+"/", &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			return err
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		var frame struct {
			Type, Event string
			OK          bool
			Payload     json.RawMessage
		}
		if _, b, err := c.Read(ctx); err != nil || json.Unmarshal(b, &frame) != nil || frame.Event != "connect.challenge" {
			return fmt.Errorf("no connect.challenge: %v %s", err, b)
		}
		req := fmt.Sprintf(`{"type":"req","id":"1","method":"connect","params":{"minProtocol":4,"maxProtocol":4,"client":{"id":"gateway-client","version":"0.0.1","platform":"linux","mode":"backend"},"role":"operator","scopes":["operator.read"],"auth":{"token":%q}}}`, in.token())
		if err := c.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
			return err
		}
		_, b, err := c.Read(ctx)
		if err != nil || !strings.Contains(string(b), `"hello-ok"`) {
			return fmt.Errorf("no hello-ok: %v %.200s", err, b)
		}
		return nil
	}
	// Caddy may still be fetching its first internal leaf: wait for it.
	var last error
	fgtest.WaitFor(t, 30*time.Second, "a wss:// handshake through Caddy", func() bool { last = handshake(); return last == nil })

	resp, err := hc.Get(base + "/.well-known/openclawd/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("health endpoint %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}

	// The gateway's side matches: it accepts the https origin.
	b, _ := os.ReadFile(filepath.Join(in.dir, "state", "openclaw", "openclaw.json"))
	origin := fmt.Sprintf("https://%s:%d", name, httpsPort)
	if !strings.Contains(string(b), `"allowedOrigins": [`) || !strings.Contains(string(b), origin) {
		t.Errorf("openclaw.json lacks allowedOrigins/publicOrigin %s:\n%s", origin, b)
	}

	// An outage shows the starting page, not a raw 502.
	in.setMode("exit78")
	in.cue("exit?code=1") // crash: the restart hits the bad config and fails
	in.waitStatus("failed", 30*time.Second, func(s apitype.Status, _ int) bool { return s.Gateway.State == "failed" })
	resp, err = hc.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("during the outage: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Recovery: the client gets through again.
	in.setMode("normal")
	in.cli("restart", "--socket", in.sock)
	in.waitHealthy()
	fgtest.WaitFor(t, 30*time.Second, "a wss:// handshake after recovery", func() bool { last = handshake(); return last == nil })

	out, _ := in.cli("status", "--socket", in.sock)
	if !strings.Contains(out, "https      internal; "+name) || !strings.Contains(out, "root cert") {
		t.Errorf("human status lacks the https lines:\n%s", out)
	}
}
