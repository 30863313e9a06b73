package embedcaddy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openclawd/openclawd/health"
)

const pinToken = "pin-test-token-0123456789abcdef"

// fakeGateway speaks the start of the gateway's protocol (§12): a
// challenge, then hello-ok to a connect carrying pinToken. It counts the
// requests it gets and the frames it reads that contain the token.
type fakeGateway struct{ requests, tokens atomic.Int32 }

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.requests.Add(1)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	if c.Write(ctx, websocket.MessageText, []byte(`{"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":1}}`)) != nil {
		return
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		return
	}
	if strings.Contains(string(b), pinToken) {
		g.tokens.Add(1)
	}
	var req struct {
		Params struct{ Auth struct{ Token string } }
	}
	if json.Unmarshal(b, &req) != nil || req.Params.Auth.Token != pinToken {
		c.Close(websocket.StatusPolicyViolation, "bad connect")
		return
	}
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"res","id":"1","ok":true,"payload":{"type":"hello-ok","auth":{"scopes":[]}}}`))
	_, _, _ = c.Read(ctx) // until the client closes
}

// serveHTTP runs h on ln until the test ends.
func serveHTTP(t *testing.T, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// impostorCert issues a leaf for name from Caddy's own local intermediate,
// so it chains to the root the check trusts: another host with a valid
// certificate for the name.
func impostorCert(t *testing.T, s *Server, name string) tls.Certificate {
	t.Helper()
	dir := filepath.Dir(s.RootCertPath())
	read := func(file string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", file)
		}
		return blk.Bytes
	}
	ca, err := x509.ParseCertificate(read("intermediate.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := parseKey(read("intermediate.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unknown private key format")
}

// The self-check sends the token through this host's Caddy, and never to
// another server for the same name, even one whose certificate comes from
// the same trusted CA.
func TestSelfCheckPinsOwnCaddy(t *testing.T) {
	const name = "claw.localhost"
	gw := freePort(t)
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(gw)))
	if err != nil {
		t.Fatal(err)
	}
	var gateway fakeGateway
	serveHTTP(t, ln, &gateway)
	o := internalOpts(t, gw, name)
	s := startServer(t, o)
	roots := internalRoots(t, s, name)

	served, err := handshake(roots, name, o.HTTPSPort)
	if err != nil {
		t.Fatal(err)
	}
	if pins := s.KeyPins(name); !slices.Contains(pins, sha256.Sum256(served.RawSubjectPublicKeyInfo)) {
		t.Fatalf("KeyPins(%s) = %x lacks the served leaf's key", name, pins)
	}
	check := func(addr string, own func() [][sha256.Size]byte) health.ProxyResult {
		return health.CheckProxy(context.Background(), health.ProxyCheckOptions{
			Name: name, Port: o.HTTPSPort, Address: addr, Roots: roots, Token: pinToken,
			Timeout: 10 * time.Second, OwnKeys: own,
		})
	}
	ownKeys := func() [][sha256.Size]byte { return s.KeyPins(name) }
	caddyAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(o.HTTPSPort))

	if r := check(caddyAddr, ownKeys); !r.OK() || gateway.tokens.Load() != 1 {
		t.Fatalf("through this host's Caddy: %+v, gateway got the token %d times; want ok, once", r, gateway.tokens.Load())
	}

	// Another host answers for the name with a certificate from the same CA.
	cert := impostorCert(t, s, name)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	inter, _ := x509.ParseCertificate(cert.Certificate[1])
	chain := x509.NewCertPool()
	chain.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: chain}); err != nil {
		t.Fatalf("the impostor's certificate must be trusted for the test to mean anything: %v", err)
	}
	tln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var impostor fakeGateway
	serveHTTP(t, tln, &impostor)

	for _, tt := range []struct {
		name string
		addr string
		own  func() [][sha256.Size]byte
		want string // in Detail
	}{
		{name: "another host", addr: tln.Addr().String(), own: ownKeys, want: "not this host's Caddy's"},
		{name: "own certificate not known", addr: tln.Addr().String(), own: nil, want: "holds no certificate for " + name},
		{name: "own Caddy, own key unknown", addr: caddyAddr, own: func() [][sha256.Size]byte { return nil }, want: "holds no certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := gateway.tokens.Load()
			r := check(tt.addr, tt.own)
			if r.Code != health.ProxyNotThisHost || !strings.Contains(r.Detail, tt.want) {
				t.Errorf("CheckProxy = %+v; want %s with %q", r, health.ProxyNotThisHost, tt.want)
			}
			if n, m := impostor.requests.Load(), impostor.tokens.Load(); n != 0 || m != 0 {
				t.Errorf("the impostor got %d requests, %d frames with the token; want none", n, m)
			}
			if gateway.tokens.Load() != before {
				t.Error("the token went through although the key was not verified")
			}
		})
	}
}
