// Package health probes the OpenClaw gateway the way its docs ask
// (docs/openclaw-gateway.md §12): /startupz until "started" after a spawn,
// then /healthz on a period, plus one long-lived WebSocket that completes the
// protocol v4 handshake, watches tick events and sends the health RPC. It
// decides when the gateway is hung; what to do about it (restart) is the
// supervisor's business, reached through the hung callback of Watch.
//
// Probes go to http://127.0.0.1:<port> directly with no proxy and no
// X-Forwarded-* headers: anything else is refused or answered with minimal
// bodies by the gateway (§12, §13).
package health

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options configure a Checker. Zero durations and counts take the defaults
// noted; see DefaultOptions for Deep.
type Options struct {
	Port  int           // gateway port on 127.0.0.1 (required)
	Token func() string // gateway token, read at each WebSocket connect (required)

	StartupTimeout  time.Duration // how long Started waits (default 120s)
	StartupInterval time.Duration // /startupz poll period (default 250ms)
	Interval        time.Duration // /healthz period (default 10s)
	Timeout         time.Duration // per check (default 5s)
	Failures        int           // consecutive failed checks that mean hung (default 3)
	// Deep keeps one WebSocket open per gateway process. Meant to be on; the
	// zero Options leave it off, so start from DefaultOptions.
	Deep         bool
	DeepInterval time.Duration // health RPC period on that socket (default 60s)
	Logger       *slog.Logger  // default slog.Default()
	// Listener, when set, verifies that the process listening on Port is
	// the gateway (supervisor.VerifyListener). It is called before a
	// /startupz "started" is believed, before every WebSocket connect (so
	// the token never reaches a squatter) and before each /healthz check,
	// where an error counts as a failed check. An error matching
	// sockets.ErrForeignListener ends Started at once.
	Listener func() error
}

// DefaultOptions returns the defaults, Deep included; set Port and Token.
func DefaultOptions() Options {
	return Options{
		StartupTimeout:  120 * time.Second,
		StartupInterval: 250 * time.Millisecond,
		Interval:        10 * time.Second,
		Timeout:         5 * time.Second,
		Failures:        3,
		Deep:            true,
		DeepInterval:    60 * time.Second,
	}
}

// Status is a point-in-time view of the probes, for `openclawd status`.
type Status struct {
	Started             bool      // /startupz said "started" for this process
	Live                bool      // the last /healthz check passed
	CheckedAt           time.Time // time of the last /healthz check
	LastError           string    // last failed check of any kind, "" after Reset
	ConsecutiveFailures int       // current failure streak, /healthz and WebSocket together
	Passes              int       // current streak of passed /healthz checks
	Version             string    // from /startupz or hello-ok
	Deep                DeepStatus
}

// DeepStatus describes the long-lived WebSocket.
type DeepStatus struct {
	Connected  bool      // a socket is open
	HelloOK    bool      // and the connect handshake succeeded on it
	LastTick   time.Time // last tick event
	LastHealth time.Time // last answered health RPC
	Error      string    // why the socket is down or refused, human text
	Code       string    // the gateway's refusal code, e.g. AUTH_TOKEN_MISMATCH
}

// Checker probes one gateway port. Its methods are safe for concurrent use;
// run at most one Watch at a time.
type Checker struct {
	o      Options
	log    *slog.Logger
	hc     *http.Client // probes: own timeout, no proxy
	wsHTTP *http.Client // WebSocket dials: the dial context bounds them
	base   string

	mu        sync.Mutex
	gen       uint64 // bumped by Reset; results of older generations are dropped
	st        Status
	httpFails int    // /healthz part of the streak
	deepFails int    // WebSocket part of the streak
	httpErr   string // last /healthz error in the streak
	deepErr   string // last WebSocket error in the streak

	calls chan call // Call's requests, taken by the live session
}

// New applies defaults to o and returns a Checker; call Validate before use.
func New(o Options) *Checker {
	d := DefaultOptions()
	for _, f := range []struct{ v, def *time.Duration }{
		{&o.StartupTimeout, &d.StartupTimeout}, {&o.StartupInterval, &d.StartupInterval},
		{&o.Interval, &d.Interval}, {&o.Timeout, &d.Timeout}, {&o.DeepInterval, &d.DeepInterval},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if o.Failures == 0 {
		o.Failures = d.Failures
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	transport := func() *http.Transport {
		return &http.Transport{
			Proxy:               nil, // never HTTP(S)_PROXY: loopback only
			DialContext:         (&net.Dialer{Timeout: o.Timeout}).DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     2 * time.Minute,
		}
	}
	return &Checker{
		o:      o,
		log:    o.Logger.With("component", "health"),
		hc:     &http.Client{Transport: transport(), Timeout: o.Timeout, CheckRedirect: noRedirect},
		wsHTTP: &http.Client{Transport: transport()},
		base:   fmt.Sprintf("http://127.0.0.1:%d", o.Port),
		calls:  make(chan call),
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Validate reports every invalid option at once.
func (c *Checker) Validate() error {
	var errs []error
	if c.o.Port < 1 || c.o.Port > 65535 {
		errs = append(errs, fmt.Errorf("health: port %d is not in 1..65535", c.o.Port))
	}
	if c.o.Token == nil {
		errs = append(errs, errors.New("health: no Token function"))
	}
	for name, d := range map[string]time.Duration{
		"StartupTimeout": c.o.StartupTimeout, "StartupInterval": c.o.StartupInterval,
		"Interval": c.o.Interval, "Timeout": c.o.Timeout, "DeepInterval": c.o.DeepInterval,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("health: %s is negative (%s)", name, d))
		}
	}
	if c.o.Failures < 1 {
		errs = append(errs, fmt.Errorf("health: Failures must be at least 1, got %d", c.o.Failures))
	}
	return errors.Join(errs...)
}

// Snapshot returns the current status.
func (c *Checker) Snapshot() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Reset forgets everything about the previous gateway process. Results still
// in flight from before the Reset are discarded.
func (c *Checker) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.st = Status{}
	c.httpFails, c.deepFails = 0, 0
	c.httpErr, c.deepErr = "", ""
	c.hc.CloseIdleConnections() // the old process's keep-alives are dead
}

func (c *Checker) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// update applies f to the status unless a Reset came in between. Callers
// hold no lock.
func (c *Checker) update(gen uint64, f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return false
	}
	f()
	c.st.ConsecutiveFailures = c.httpFails + c.deepFails
	return true
}
