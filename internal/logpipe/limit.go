package logpipe

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Limit wraps an slog.Handler with the rules gateway output gets, for
// loggers openclawd does not write itself (Caddy's): within each window a
// message (level and text) passes once and its repeats are counted, then
// summed up in one line; and a token bucket of perMinute with burst caps
// what passes at all. An ACME retry loop or a scanner hammering the TLS
// port costs a few lines a minute, not thousands.
func Limit(next slog.Handler, perMinute, burst int, window time.Duration) *LimitHandler {
	if perMinute <= 0 {
		perMinute = 120
	}
	if burst <= 0 {
		burst = 60
	}
	if window <= 0 {
		window = time.Minute
	}
	return &LimitHandler{next: next, st: &limitState{
		root: next, rate: float64(perMinute) / 60, burst: float64(burst), tokens: float64(burst),
		window: window, seen: map[limitKey]*seenMsg{},
	}}
}

// LimitHandler is the handler Limit returns. Handlers derived with
// WithAttrs and WithGroup share its budget.
type LimitHandler struct {
	next slog.Handler
	st   *limitState
}

type limitKey struct {
	level slog.Level
	msg   string
}

type seenMsg struct {
	repeats int
	next    slog.Handler // the handler (attrs, groups) the first one went to
}

type limitState struct {
	mu          sync.Mutex
	root        slog.Handler // for the over-the-limit summary
	rate, burst float64      // tokens per second, bucket size
	tokens      float64
	last        time.Time
	window      time.Duration
	start       time.Time // of the current window
	seen        map[limitKey]*seenMsg
	dropped     int // over the bucket in this window
}

// Enabled implements slog.Handler.
func (h *LimitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (h *LimitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &LimitHandler{next: h.next.WithAttrs(as), st: h.st}
}

// WithGroup implements slog.Handler.
func (h *LimitHandler) WithGroup(name string) slog.Handler {
	return &LimitHandler{next: h.next.WithGroup(name), st: h.st}
}

// Handle implements slog.Handler.
func (h *LimitHandler) Handle(ctx context.Context, r slog.Record) error {
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	st := h.st
	st.mu.Lock()
	pending := st.rollLocked(now)
	k := limitKey{r.Level, r.Message}
	pass := false
	if m, ok := st.seen[k]; ok {
		m.repeats++
	} else {
		st.tokens = min(st.burst, st.tokens+now.Sub(st.last).Seconds()*st.rate)
		st.last = now
		// Errors always pass once per window: one failure is said, once.
		if st.tokens >= 1 || r.Level >= slog.LevelError {
			st.tokens = max(0, st.tokens-1)
			st.seen[k] = &seenMsg{next: h.next}
			pass = true
		} else {
			st.dropped++
		}
	}
	st.mu.Unlock()
	emit(ctx, pending)
	if pass {
		return h.next.Handle(ctx, r)
	}
	return nil
}

// Flush writes the summaries of a window that has ended, without waiting
// for the next record; call it periodically.
func (h *LimitHandler) Flush() {
	h.st.mu.Lock()
	pending := h.st.rollLocked(time.Now())
	h.st.mu.Unlock()
	emit(context.Background(), pending)
}

type summary struct {
	next slog.Handler
	r    slog.Record
}

// rollLocked starts a new window when the current one has ended, and
// returns the summary lines of the old one.
func (st *limitState) rollLocked(now time.Time) []summary {
	if st.start.IsZero() {
		st.start, st.last = now, now
	}
	if now.Sub(st.start) < st.window {
		return nil
	}
	var out []summary
	for k, m := range st.seen {
		if m.repeats > 0 {
			out = append(out, summary{m.next, slog.NewRecord(now, k.level,
				fmt.Sprintf("%s (repeated %d more times in the last %s)", k.msg, m.repeats, st.window), 0)})
		}
	}
	if st.dropped > 0 {
		out = append(out, summary{st.root, slog.NewRecord(now, slog.LevelWarn,
			fmt.Sprintf("%d log records over the rate limit were not written in the last %s", st.dropped, st.window), 0)})
	}
	st.seen, st.dropped, st.start = map[limitKey]*seenMsg{}, 0, now
	return out
}

func emit(ctx context.Context, ss []summary) {
	for _, s := range ss {
		_ = s.next.Handle(ctx, s.r)
	}
}
