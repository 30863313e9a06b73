package logpipe

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// record is what recHandler keeps of one slog.Record.
type record struct {
	Time  time.Time
	Level slog.Level
	Msg   string
	Attrs map[string]slog.Value
}

// recHandler records every record into a slice.
type recHandler struct {
	mu   sync.Mutex
	recs []record
}

func (h *recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recHandler) WithGroup(string) slog.Handler            { return h }

func (h *recHandler) Handle(_ context.Context, r slog.Record) error {
	rec := record{Time: r.Time, Level: r.Level, Msg: r.Message, Attrs: map[string]slog.Value{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, rec)
	return nil
}

func (h *recHandler) records() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), h.recs...)
}

func (h *recHandler) msgs() []string {
	var out []string
	for _, r := range h.records() {
		out = append(out, r.Msg)
	}
	return out
}

// fakeClock is an injectable clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 11, 26, 3, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestPipe returns a Pipe on a fake clock recording into a recHandler.
func newTestPipe(o Options) (*Pipe, *recHandler, *fakeClock) {
	h := &recHandler{}
	clk := newFakeClock()
	o.Logger = slog.New(h)
	o.Now = clk.Now
	return New(o), h, clk
}

// word turns i into a distinct all-letter word, so lines built from it do
// not normalise to the same pattern the way numbers would.
func word(i int) string {
	var b []byte
	for {
		b = append(b, byte('a'+i%26))
		i /= 26
		if i == 0 {
			return string(b)
		}
	}
}

// syncBuffer is a goroutine-safe buffer that signals every write, so tests
// can wait for output with a deadline instead of sleeping.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(b)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the buffer contains want or the deadline passes.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %q; have:\n%s", want, s.String())
		}
	}
}
