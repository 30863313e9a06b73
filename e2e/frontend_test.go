package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
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

	"github.com/openclawd/openclawd/internal/pebbletest"
	"github.com/openclawd/openclawd/internal/testnet"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// frontEnd is the network of system-tests.md §2.4: openclawd on srv
// (198.18.0.2), clients on cli (198.18.0.10), and, for acme, Pebble on
// acme (198.18.0.5) with a mock DNS that sends every name to srv.
type frontEnd struct {
	srv, cli *testnet.Host
	pebble   *pebbletest.Pebble
	rootFile string // PEM the clients trust: Pebble's issuing root, or Caddy's local root
	name     string
}

const frontName = "openclawd.example.com" // under example.com: never a real host (§2.5)

// newFrontEnd builds the network and, for acme, Pebble. Clients trust
// Pebble's issuing root; so does openclawd's self-check, through
// SSL_CERT_FILE, as a host using a private ACME CA would.
func newFrontEnd(t testing.TB, acme bool) *frontEnd {
	n := testnet.New(t)
	fe := &frontEnd{srv: n.Host("srv", 2), cli: n.Host("cli", 10), name: frontName}
	if acme {
		fe.pebble = pebbletest.Start(t, pebbletest.Options{Host: n.Host("acme", 5), DefaultIPv4: testnet.Server})
		dir, err := os.MkdirTemp("", "pebble-root")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755) // openclawd's self-check reads it as the service user
		fe.rootFile = filepath.Join(dir, "pebble-root.pem")
		if err := os.WriteFile(fe.rootFile, fe.pebble.IssuingRoot(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fe
}

// tlsConfig is the tls: section for openclawd on srv.
func (fe *frontEnd) tlsConfig() string {
	c := fmt.Sprintf("tls:\n  domain: [%s]\n  check_address: %s\n  check_interval: 1m\n", fe.name, testnet.Server)
	if fe.pebble == nil {
		return c + "  mode: internal\n"
	}
	return c + fmt.Sprintf("  mode: acme\n  email: ops@example.com\n  acme_ca: %s\n  acme_ca_root: %s\n", fe.pebble.CAURL, fe.pebble.APIRootFile)
}

// env is openclawd's extra environment.
func (fe *frontEnd) env() []string {
	if fe.pebble == nil {
		return nil
	}
	return []string{"SSL_CERT_FILE=" + fe.rootFile}
}

// waitServed waits until status shows a certificate and a passing
// self-check; for internal mode it then trusts the root status names.
func (fe *frontEnd) waitServed(t testing.TB, in *instance) apitype.Status {
	t.Helper()
	st, _ := in.waitStatus("a certificate and a passing wss:// self-check", 3*time.Minute, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.TLS != nil && len(s.TLS.Names) == 1 && s.TLS.Names[0].NotAfter != nil &&
			s.TLS.Names[0].Check != nil && s.TLS.Names[0].Check.Code == "ok"
	})
	if fe.pebble == nil {
		fe.rootFile = st.TLS.RootCert
	}
	return st
}

// client is an HTTPS client on cli that trusts rootFile and sends every
// request to srv, as DNS would.
func (fe *frontEnd) client(t testing.TB) *http.Client {
	t.Helper()
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: rootPool(t, fe.rootFile), ServerName: fe.name},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return fe.cli.DialContext(ctx, network, net.JoinHostPort(testnet.Server, port))
		},
	}}
}

// rootPool is a pool of the certificates in a PEM file.
func rootPool(tb testing.TB, file string) *x509.CertPool {
	tb.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		tb.Fatalf("no certificate in %s", file)
	}
	return p
}

// wsClient is one way of connecting through the front end.
type wsClient struct {
	token  string
	device bool               // sign the connect with a fresh Ed25519 device key
	key    ed25519.PrivateKey // or with this one (a device that comes back)
	header http.Header        // e.g. a spoofed X-Forwarded-For, an Origin
}

// connect returns "hello-ok scopes=N", the gateway's refusal code, or
// "http NNN" when the upgrade itself was refused.
func (fe *frontEnd) connect(t testing.TB, hc *http.Client, c wsClient) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, res, err := wsHandshake(ctx, hc, "wss://"+fe.name+"/", c)
	if conn != nil {
		conn.CloseNow()
	}
	return res, err
}

// wsHandshake dials url and completes the gateway's connect as c says. On
// hello-ok it returns the open connection and "hello-ok scopes=N";
// otherwise the refusal code or "http NNN".
func wsHandshake(ctx context.Context, hc *http.Client, url string, c wsClient) (*websocket.Conn, string, error) {
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: c.header})
	if err != nil {
		if resp != nil {
			return nil, fmt.Sprintf("http %d", resp.StatusCode), nil
		}
		return nil, "", err
	}
	conn.SetReadLimit(1 << 20)
	var challenge struct {
		Event   string
		Payload struct{ Nonce string }
	}
	if _, b, err := conn.Read(ctx); err != nil || json.Unmarshal(b, &challenge) != nil || challenge.Event != "connect.challenge" {
		conn.CloseNow()
		return nil, "", fmt.Errorf("no connect.challenge: %v %.200s", err, b)
	}
	params := map[string]any{
		"minProtocol": 4, "maxProtocol": 4,
		"client": map[string]any{"id": "gateway-client", "version": "0.0.1", "platform": "linux", "mode": "backend"},
		"role":   "operator", "scopes": []string{"operator.read"},
	}
	if c.token != "" {
		params["auth"] = map[string]any{"token": c.token}
	}
	switch {
	case c.key != nil:
		params["device"] = signDeviceWith(c.key, challenge.Payload.Nonce, c.token)
	case c.device:
		params["device"] = signDevice(challenge.Payload.Nonce, c.token)
	}
	req, _ := json.Marshal(map[string]any{"type": "req", "id": "1", "method": "connect", "params": params})
	if err := conn.Write(ctx, websocket.MessageText, req); err != nil {
		conn.CloseNow()
		return nil, "", err
	}
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			conn.CloseNow()
			return nil, "", fmt.Errorf("waiting for the connect reply: %w", err)
		}
		var f struct {
			Type, ID string
			OK       bool
			Payload  struct {
				Type string
				Auth struct{ Scopes []string }
			}
			Error *struct {
				Code    string
				Details struct{ Code string }
			}
		}
		if json.Unmarshal(b, &f) != nil || f.Type != "res" || f.ID != "1" {
			continue
		}
		switch {
		case f.OK && f.Payload.Type == "hello-ok":
			return conn, fmt.Sprintf("hello-ok scopes=%d", len(f.Payload.Auth.Scopes)), nil
		case f.Error != nil && f.Error.Details.Code != "":
			conn.CloseNow()
			return nil, f.Error.Details.Code, nil
		case f.Error != nil:
			conn.CloseNow()
			return nil, f.Error.Code, nil
		}
		conn.CloseNow()
		return nil, "", fmt.Errorf("unexpected reply %.300s", b)
	}
}

// signDevice builds the device block of a connect, signed as the gateway's
// own client does (payload v3: v3|deviceId|clientId|clientMode|role|
// scopes|signedAtMs|token|nonce|platform|deviceFamily).
func signDevice(nonce, token string) map[string]any {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return signDeviceWith(priv, nonce, token)
}

func signDeviceWith(priv ed25519.PrivateKey, nonce, token string) map[string]any {
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	id := hex.EncodeToString(sum[:])
	signedAt := time.Now().UnixMilli()
	payload := strings.Join([]string{"v3", id, "gateway-client", "backend", "operator", "operator.read",
		fmt.Sprint(signedAt), token, nonce, "linux", ""}, "|")
	return map[string]any{
		"id":        id,
		"publicKey": base64.RawURLEncoding.EncodeToString(pub),
		"signature": base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(payload))),
		"signedAt":  signedAt,
		"nonce":     nonce,
	}
}

// checkAuthThroughProxy is what a remote client sees through Caddy: the
// gateway's own answers, never a proxy error, and nothing auto-approved.
func (fe *frontEnd) checkAuthThroughProxy(t *testing.T, in *instance) {
	hc := fe.client(t)
	origin := http.Header{"Origin": {"https://" + fe.name}}
	spoof := http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}}
	tests := []struct {
		name string
		c    wsClient
		want string
	}{
		{name: "token, no device: connected with no scopes", c: wsClient{token: in.token()}, want: "hello-ok scopes=0"},
		{name: "browser origin allowed", c: wsClient{token: in.token(), header: origin}, want: "hello-ok scopes=0"},
		{name: "no token: the gateway's refusal", c: wsClient{}, want: "DEVICE_IDENTITY_REQUIRED"},
		{name: "wrong token", c: wsClient{token: strings.Repeat("0", 64)}, want: "AUTH_TOKEN_MISMATCH"},
		{name: "new device must pair", c: wsClient{token: in.token(), device: true}, want: "PAIRING_REQUIRED"},
		{name: "spoofed X-Forwarded-For is overwritten", c: wsClient{token: in.token(), device: true, header: spoof}, want: "PAIRING_REQUIRED"},
		{name: "foreign origin", c: wsClient{token: in.token(), header: http.Header{"Origin": {"https://evil.example.net"}}}, want: "CONTROL_UI_ORIGIN_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fe.connect(t, hc, tt.c)
			if err != nil || got != tt.want {
				t.Errorf("connect = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
