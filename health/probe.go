package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openclawd/openclawd/internal/sockets"
)

// ErrNotStarted is wrapped by Started's error when StartupTimeout passes.
var ErrNotStarted = errors.New("gateway did not report started")

// Started polls /startupz until it says "started". It fails at StartupTimeout
// with ErrNotStarted and the last answer, or when ctx ends with ctx's error.
//
// A start is a new gateway process, so Started begins with Reset: the
// supervisor's Prober interface has no Reset of its own.
func (c *Checker) Started(ctx context.Context) error {
	c.Reset()
	gen := c.generation()
	dctx, cancel := context.WithTimeout(ctx, c.o.StartupTimeout)
	defer cancel()
	t := time.NewTicker(c.o.StartupInterval)
	defer t.Stop()
	last := "no answer yet"
	for {
		version, answer, err := c.pollStartup(dctx)
		if err == nil && c.o.Listener != nil {
			// Only the gateway's own answer counts: a process that bound the
			// port first would otherwise be declared the healthy gateway.
			if lerr := c.o.Listener(); lerr != nil {
				if errors.Is(lerr, sockets.ErrForeignListener) {
					c.update(gen, func() { c.st.LastError = "/startupz: " + lerr.Error() })
					return fmt.Errorf("/startupz on port %d answered by a process that is not the gateway: %w", c.o.Port, lerr)
				}
				err, answer = lerr, "started, but "+lerr.Error()
			}
		}
		if err == nil {
			c.update(gen, func() {
				c.st.Started, c.st.Version, c.st.CheckedAt = true, version, time.Now()
			})
			c.log.Info("gateway started", "version", version)
			return nil
		}
		if dctx.Err() == nil || last == "no answer yet" {
			last = answer
		}
		select {
		case <-dctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for gateway start on port %d: %w (last /startupz: %s)", c.o.Port, ctx.Err(), last)
			}
			return fmt.Errorf("%w within %s on port %d (last /startupz: %s)", ErrNotStarted, c.o.StartupTimeout, c.o.Port, last)
		case <-t.C:
		}
	}
}

// pollStartup asks /startupz once. On failure, answer describes what came
// back ("503 {"status":"starting"}" or a connection error).
func (c *Checker) pollStartup(ctx context.Context) (version, answer string, err error) {
	code, body, err := c.get(ctx, "/startupz")
	if err != nil {
		return "", errText(err), err
	}
	var s struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	if code == http.StatusOK && json.Unmarshal([]byte(body), &s) == nil && s.Status == "started" {
		return s.Version, "", nil
	}
	answer = fmt.Sprintf("%d %s", code, body)
	return "", answer, errors.New(answer)
}

// Watch checks /healthz every Interval (the first at once) and, with Deep,
// keeps the WebSocket probe running. When Failures consecutive checks have
// failed it calls hung once with a readable reason and returns. It returns
// without calling hung when ctx ends.
//
// Checks never overlap. After a failure the remaining checks of the streak
// are paced to end Failures×Interval after the start of the last check that
// passed (nextCheck), so a hang is reported within that window of its onset
// when Interval ≥ Timeout·Failures/(Failures-1) (the defaults: 10s, 5s, 3),
// and about Interval+Failures×Timeout after it otherwise; sooner when the
// WebSocket probe fails too.
func (c *Checker) Watch(ctx context.Context, hung func(reason string)) {
	gen := c.generation()
	c.update(gen, func() { // a streak never carries over from an earlier Watch
		c.httpFails, c.deepFails, c.httpErr, c.deepErr = 0, 0, "", ""
	})
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var abort atomic.Bool // hung declared: drop the socket without a close handshake
	defer func() {
		abort.Store(true)
		cancel()
		wg.Wait()
	}()
	failed := make(chan struct{}, 1) // the deep probe counted a failure
	if c.o.Deep {
		wg.Go(func() { c.deepLoop(ctx, gen, failed, &abort) })
	}
	t := time.NewTimer(0)
	defer t.Stop()
	lastPass := time.Now() // the gateway has just said started
	check := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check = true
		case <-failed:
			check = false
		}
		if check {
			start := time.Now()
			passed := c.checkLive(ctx, gen)
			if ctx.Err() != nil {
				return
			}
			if passed {
				lastPass = start
			}
			t.Reset(time.Until(c.nextCheck(start, lastPass, passed, gen)))
		}
		if reason, ok := c.hungReason(gen); ok {
			c.log.Warn("gateway hung", "reason", reason, "port", c.o.Port)
			abort.Store(true)
			hung(reason)
			return
		}
	}
}

// nextCheck is when the /healthz check after one that started at start
// begins: Interval later after a pass; after a failure, soon enough that
// the streak's remaining checks, each allowed Timeout, end by lastPass +
// Failures×Interval, and evenly spread until then.
func (c *Checker) nextCheck(start, lastPass time.Time, passed bool, gen uint64) time.Time {
	next := start.Add(c.o.Interval)
	if passed {
		return next
	}
	c.mu.Lock()
	left := c.o.Failures - c.httpFails - c.deepFails
	stale := gen != c.gen
	c.mu.Unlock()
	if left <= 0 || stale {
		return next
	}
	now := time.Now()
	deadline := lastPass.Add(time.Duration(c.o.Failures) * c.o.Interval)
	slack := deadline.Sub(now) - time.Duration(left)*c.o.Timeout
	return minTime(next, now.Add(max(0, slack/time.Duration(left))))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// checkLive runs one /healthz check, records it and reports whether it
// passed. A listener that is not the gateway's fails it unasked.
func (c *Checker) checkLive(ctx context.Context, gen uint64) bool {
	var code int
	var body string
	var err error
	if c.o.Listener != nil {
		if lerr := c.o.Listener(); lerr != nil {
			err = fmt.Errorf("the listener on port %d is not the gateway's: %w", c.o.Port, lerr)
		}
	}
	if err == nil {
		code, body, err = c.get(ctx, "/healthz")
	}
	if ctx.Err() != nil {
		return false // our own cancellation, not the gateway's failure
	}
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("status %d: %s", code, body)
	}
	now := time.Now()
	c.update(gen, func() {
		c.st.CheckedAt, c.st.Live = now, err == nil
		if err == nil {
			if c.httpFails > 0 {
				c.log.Info("gateway answers /healthz again", "after_failures", c.httpFails)
			}
			c.httpFails, c.httpErr = 0, ""
			c.st.Passes++
			return
		}
		c.httpFails++
		c.httpErr = errText(err)
		c.st.LastError = "/healthz: " + c.httpErr
		c.st.Passes = 0
		c.log.Warn("gateway /healthz check failed", "consecutive", c.httpFails+c.deepFails, "error", c.httpErr)
	})
	return err == nil
}

// deepFailure records a WebSocket failure toward the streak and wakes Watch.
func (c *Checker) deepFailure(gen uint64, failed chan<- struct{}, what string) {
	if !c.update(gen, func() {
		c.deepFails++
		c.deepErr = what
		c.st.LastError = "websocket: " + what
		c.log.Warn("gateway websocket check failed", "consecutive", c.httpFails+c.deepFails, "error", what)
	}) {
		return
	}
	select {
	case failed <- struct{}{}:
	default:
	}
}

// hungReason reports whether the streak has reached Failures, and why.
func (c *Checker) hungReason(gen uint64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.httpFails + c.deepFails
	if gen != c.gen || n < c.o.Failures {
		return "", false
	}
	if c.deepFails == 0 {
		return fmt.Sprintf("no answer from /healthz in %d consecutive checks (timeout %s); last error: %s",
			c.httpFails, c.o.Timeout, c.httpErr), true
	}
	if c.httpFails == 0 {
		return fmt.Sprintf("websocket probe failed %d consecutive checks (timeout %s); last error: %s",
			c.deepFails, c.o.Timeout, c.deepErr), true
	}
	return fmt.Sprintf("%d consecutive failed checks (timeout %s): /healthz %d, last error: %s; websocket %d, last error: %s",
		n, c.o.Timeout, c.httpFails, c.httpErr, c.deepFails, c.deepErr), true
}

// get fetches path from the gateway within Timeout, returning at most 4 KiB
// of the body (the bodies are small; a huge one is not a health answer).
func (c *Checker) get(ctx context.Context, path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, "", fmt.Errorf("building request for %s: %w", path, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", path, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// errText is an error as a person reads it: without the URL that every
// probe error repeats, and with timeouts named the same way whichever of
// the context or the client noticed first.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded.Error()
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return context.DeadlineExceeded.Error()
	}
	return err.Error()
}
