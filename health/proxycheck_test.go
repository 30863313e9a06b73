package health

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// stubResolver answers every lookup with addrs, or err.
type stubResolver struct {
	addrs []netip.Addr
	err   error
}

func (r stubResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return r.addrs, r.err
}

// wsGateway is a TLS server that answers the connect the way reply says:
// "" is hello-ok, anything else that refusal code. Every request it gets
// and every frame it reads are counted in seen.
func wsGateway(t *testing.T, status int, reply string, seen *gatewaySeen) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.requests.Add(1)
		if status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":{"type":"proxy_attribution_required"}}`))
			return
		}
		if r.Header.Get("Origin") != "https://example.com" {
			http.Error(w, "want the served name's origin, got "+r.Header.Get("Origin"), http.StatusBadRequest)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":1}}`))
		_, b, err := c.Read(ctx)
		if strings.Contains(string(b), "tok") {
			seen.tokens.Add(1)
		}
		var req struct {
			ID     string
			Params struct{ Auth struct{ Token string } }
		}
		if err != nil || json.Unmarshal(b, &req) != nil || req.Params.Auth.Token != "tok" {
			return
		}
		if reply == "" {
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"res","id":"1","ok":true,"payload":{"type":"hello-ok","auth":{"scopes":[]}}}`))
			_, _, _ = c.Read(ctx)
			return
		}
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"res","id":"1","ok":false,"error":{"code":"X","message":"m","details":{"code":"`+reply+`"}}}`))
		c.Close(websocket.StatusPolicyViolation, "refused")
	}))
	t.Cleanup(srv.Close)
	return srv
}

type gatewaySeen struct{ requests, tokens atomic.Int32 }

func TestCheckProxy(t *testing.T) {
	closed := func() string { // a port nothing listens on
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return ln.Addr().String()
	}()
	tests := []struct {
		name     string
		status   int    // HTTP answer to the upgrade, 0 for a WebSocket
		reply    string // refusal code, "" for hello-ok
		opts     func(o *ProxyCheckOptions)
		wantCode string
		noToken  bool // the server must never see an HTTP request or the token
	}{
		{name: "hello-ok", wantCode: ProxyOK},
		{name: "pairing", reply: "PAIRING_REQUIRED", wantCode: ProxyPairing},
		{name: "origin", reply: "CONTROL_UI_ORIGIN_NOT_ALLOWED", wantCode: ProxyOrigin},
		{name: "token", reply: "AUTH_TOKEN_MISMATCH", wantCode: ProxyToken},
		{name: "unknown refusal", reply: "SOMETHING_NEW", wantCode: ProxyRefused},
		{name: "starting page", status: http.StatusServiceUnavailable, wantCode: ProxyGatewayDown},
		{name: "loopback client refused by design", status: http.StatusForbidden, wantCode: ProxyLoopback},
		{name: "other HTTP answer", status: http.StatusNotFound, wantCode: ProxyUpgrade},
		{name: "untrusted certificate", opts: func(o *ProxyCheckOptions) { o.Roots = x509.NewCertPool() }, wantCode: ProxyCertUntrusted},
		{name: "wrong name", opts: func(o *ProxyCheckOptions) { o.Name = "other.example.net" }, wantCode: ProxyCertName},
		{name: "another host with a trusted certificate", opts: func(o *ProxyCheckOptions) {
			o.OwnKeys = func() [][sha256.Size]byte { return [][sha256.Size]byte{sha256.Sum256([]byte("another key"))} }
		}, wantCode: ProxyNotThisHost, noToken: true},
		{name: "own certificate not known yet", opts: func(o *ProxyCheckOptions) { o.OwnKeys = nil }, wantCode: ProxyNotThisHost, noToken: true},
		{name: "unreachable", opts: func(o *ProxyCheckOptions) { o.Address = closed }, wantCode: ProxyUnreachable},
		{name: "no DNS", opts: func(o *ProxyCheckOptions) {
			o.Address, o.Resolver = "", stubResolver{err: errors.New("no such host")}
		}, wantCode: ProxyDNSUnresolved},
		{name: "DNS says loopback", opts: func(o *ProxyCheckOptions) {
			o.Address, o.Resolver = "", stubResolver{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}}
		}, wantCode: ProxyLoopback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen gatewaySeen
			srv := wsGateway(t, tt.status, tt.reply, &seen)
			roots := x509.NewCertPool()
			roots.AddCert(srv.Certificate())
			own := [][sha256.Size]byte{sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)}
			host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			o := ProxyCheckOptions{Name: "example.com", Address: net.JoinHostPort(host, port), Roots: roots, Token: "tok", Timeout: 10 * time.Second,
				OwnKeys: func() [][sha256.Size]byte { return own }}
			if tt.opts != nil {
				tt.opts(&o)
			}
			r := CheckProxy(context.Background(), o)
			if r.Code != tt.wantCode || r.OK() != (tt.wantCode == ProxyOK) || r.Detail == "" {
				t.Errorf("CheckProxy = %+v; want code %s and a detail", r, tt.wantCode)
			}
			if tt.noToken && (seen.requests.Load() != 0 || seen.tokens.Load() != 0) {
				t.Errorf("the server got %d requests and %d frames with the token; want none", seen.requests.Load(), seen.tokens.Load())
			}
			if tt.wantCode == ProxyOK && seen.tokens.Load() != 1 {
				t.Errorf("the gateway got the token %d times; want once", seen.tokens.Load())
			}
		})
	}
}

func TestUpgradeCode(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{name: "attribution", status: 403, body: `{"error":{"type":"proxy_attribution_required"}}`, want: ProxyAttribution},
		{name: "plain 403", status: 403, body: "forbidden", want: ProxyUpgrade},
		{name: "bad gateway", status: 502, want: ProxyGatewayDown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := upgradeCode(tt.status, []byte(tt.body)); got != tt.want {
				t.Errorf("upgradeCode(%d, %q) = %s, want %s", tt.status, tt.body, got, tt.want)
			}
		})
	}
}
