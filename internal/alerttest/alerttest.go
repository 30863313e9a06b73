// Package alerttest runs real receivers of alerts on loopback for tests: a
// webhook (shoutrrr's generic service, and ntfy's HTTP API) and an SMTP
// server (github.com/emersion/go-smtp), each recording what it received
// and able to refuse on cue, as a notifier that is down does.
package alerttest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message a receiver took.
type Received struct {
	At     time.Time
	Path   string
	Method string
	Header http.Header
	Body   string
}

// HTTP is a webhook receiver: it records every request it answers 2xx.
type HTTP struct {
	URL  string // http://127.0.0.1:port
	Host string // 127.0.0.1:port

	down     atomic.Bool
	mu       sync.Mutex
	got      []Received
	refused  int
	srv      *http.Server
	received chan struct{}
}

// NewHTTP starts a receiver; it stops with the test.
func NewHTTP(t testing.TB) *HTTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &HTTP{URL: "http://" + ln.Addr().String(), Host: ln.Addr().String(), received: make(chan struct{}, 1)}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	t.Cleanup(func() { _ = h.srv.Close() })
	return h
}

// SetDown makes the receiver answer 503 (true) or take messages (false).
func (h *HTTP) SetDown(down bool) { h.down.Store(down) }

func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down.Load() {
		h.refused++
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
		return
	}
	h.got = append(h.got, Received{At: time.Now(), Path: r.URL.RequestURI(), Method: r.Method, Header: r.Header.Clone(), Body: string(b)})
	select {
	case h.received <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"id":"x","event":"message"}`))
}

// Got returns what was received so far.
func (h *HTTP) Got() []Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Received(nil), h.got...)
}

// Refused is how many requests were answered 503.
func (h *HTTP) Refused() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused
}

// Matching returns the received messages whose body contains every s.
func Matching(rs []Received, s ...string) []Received {
	var out []Received
next:
	for _, r := range rs {
		for _, x := range s {
			if !strings.Contains(r.Body, x) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// SMTP is a mail server that keeps every message it is given.
type SMTP struct {
	Addr string // 127.0.0.1:port
	Port int

	down atomic.Bool
	mu   sync.Mutex
	got  []Received
	srv  *smtp.Server
}

// NewSMTP starts a mail server without TLS or auth; it stops with the test.
func NewSMTP(t testing.TB) *SMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTP{Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		if s.down.Load() {
			return nil, &smtp.SMTPError{Code: 421, Message: "down for the test"}
		}
		return &session{s: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	})
	return s
}

// SetDown makes the server refuse sessions.
func (s *SMTP) SetDown(down bool) { s.down.Store(down) }

// Got returns the messages received so far (Path is the recipients).
func (s *SMTP) Got() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

type session struct {
	s    *SMTP
	from string
	rcpt []string
}

func (x *session) Reset()        { x.from, x.rcpt = "", nil }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.rcpt = append(x.rcpt, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	if x.from == "" || len(x.rcpt) == 0 {
		return errors.New("no sender or recipient")
	}
	x.s.mu.Lock()
	x.s.got = append(x.s.got, Received{At: time.Now(), Path: strings.Join(x.rcpt, ","), Method: "DATA", Body: string(b)})
	x.s.mu.Unlock()
	return nil
}
