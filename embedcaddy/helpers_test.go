package embedcaddy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// notifyChildEnv makes the test binary run notifyChild (TestNoSDNotify).
const notifyChildEnv = "EMBEDCADDY_NOTIFY_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(notifyChildEnv) != "" {
		os.Exit(notifyChild())
	}
	if dir := os.Getenv(bindChildEnv); dir != "" {
		os.Exit(bindChild(dir))
	}
	code := m.Run()
	pebbleShutdown()
	os.Exit(code)
}

// freePort returns a 127.0.0.1 TCP port that was free a moment ago, so
// parallel test binaries don't collide on fixed ports.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond until it returns nil or timeout passes: no fixed sleeps.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		<-tick.C
	}
}

// logCapture is an slog handler that forwards to t.Log while the test runs
// (Caddy logs from background goroutines after it ends) and keeps records.
type logCapture struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
	recs []string
}

func testLogger(t testing.TB) (*slog.Logger, *logCapture) {
	c := &logCapture{t: t}
	t.Cleanup(func() { c.mu.Lock(); c.done = true; c.mu.Unlock() })
	h := slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(h), c
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, string(p))
	if !c.done {
		c.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (c *logCapture) has(sub string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.recs {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

// client returns an HTTP/1.1 client that sends every name to 127.0.0.1
// (keeping the port) and trusts roots; from != "" sets the source address.
func client(roots *x509.CertPool, from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
			TLSClientConfig: &tls.Config{RootCAs: roots},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get fetches url and returns the response with its body read.
func get(c *http.Client, url string, hdr ...string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// upstream is a stand-in gateway on 127.0.0.1:port: /ws echoes WebSocket
// messages, /xff reports X-Forwarded-For, /seen reports the client-address
// headers it got (as a body, or as the first message of a WebSocket),
// anything else says hello.
func upstream(t testing.TB, port int) func() {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/xff", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Join(r.Header.Values("X-Forwarded-For"), "|"))
	})
	mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) {
		seen := seenHeaders(r.Header)
		if r.Header.Get("Upgrade") == "" {
			fmt.Fprint(w, seen)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if c.Write(r.Context(), websocket.MessageText, []byte(seen)) == nil {
			_, _, _ = c.Read(r.Context()) // until the client closes
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from upstream")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	var once sync.Once
	stop := func() { once.Do(func() { srv.Close() }) }
	t.Cleanup(stop)
	return stop
}

// seenHeaders renders the client-address headers in h, one per line.
func seenHeaders(h http.Header) string {
	var b strings.Builder
	for _, k := range []string{"Forwarded", "X-Real-IP", "X-Forwarded-For"} {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.Join(h.Values(k), "|"))
	}
	return b.String()
}

// echo sends msg over c and checks it comes back.
func echo(ctx context.Context, c *websocket.Conn, msg string) error {
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if string(b) != msg {
		return fmt.Errorf("echo: got %q, want %q", b, msg)
	}
	return nil
}

// handshake verifies the chain served for name on port against roots and
// returns the leaf.
func handshake(roots *x509.CertPool, name string, port int) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 3 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		&tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no peer certificate")
	}
	return certs[0], nil
}

// startServer starts s and stops it when the test ends.
func startServer(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}
