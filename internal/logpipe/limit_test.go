package logpipe

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// capture records what reaches the wrapped handler.
type capture struct {
	mu    *sync.Mutex
	lines *[]string
	attrs string
}

func newCapture() capture { return capture{mu: &sync.Mutex{}, lines: &[]string{}} }

func (c capture) Enabled(context.Context, slog.Level) bool { return true }
func (c capture) WithGroup(string) slog.Handler            { return c }
func (c capture) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		c.attrs += " " + a.String()
	}
	return c
}
func (c capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.lines = append(*c.lines, r.Level.String()+" "+r.Message+c.attrs)
	return nil
}

func TestLimit(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rec := func(at time.Duration, l slog.Level, msg string) slog.Record {
		return slog.NewRecord(t0.Add(at), l, msg, 0)
	}
	tests := []struct {
		name    string
		records func() []slog.Record
		want    []string
	}{
		{
			name: "a retry loop is one line and a count",
			records: func() []slog.Record {
				var rs []slog.Record
				for i := range 1000 {
					rs = append(rs, rec(time.Duration(i)*time.Millisecond, slog.LevelError, "could not get certificate"))
				}
				return append(rs, rec(61*time.Second, slog.LevelInfo, "later"))
			},
			want: []string{"ERROR could not get certificate", "ERROR could not get certificate (repeated 999 more times in the last 1m0s)", "INFO later"},
		},
		{
			name: "distinct lines beyond the bucket are counted, not written",
			records: func() []slog.Record {
				var rs []slog.Record
				for i := range 20 {
					rs = append(rs, rec(0, slog.LevelInfo, fmt.Sprintf("handshake %d", i)))
				}
				return append(rs, rec(61*time.Second, slog.LevelInfo, "later"))
			},
			want: []string{"INFO handshake 0", "INFO handshake 1", "INFO handshake 2",
				"WARN 17 log records over the rate limit were not written in the last 1m0s", "INFO later"},
		},
		{
			name: "an error passes once even with the bucket empty",
			records: func() []slog.Record {
				return []slog.Record{rec(0, slog.LevelInfo, "a"), rec(0, slog.LevelInfo, "b"), rec(0, slog.LevelInfo, "c"),
					rec(0, slog.LevelInfo, "d"), rec(0, slog.LevelError, "boom"), rec(0, slog.LevelError, "boom")}
			},
			want: []string{"INFO a", "INFO b", "INFO c", "ERROR boom"},
		},
		{
			name: "the bucket refills at perMinute",
			records: func() []slog.Record {
				return []slog.Record{rec(0, slog.LevelInfo, "a"), rec(0, slog.LevelInfo, "b"), rec(0, slog.LevelInfo, "c"),
					rec(0, slog.LevelInfo, "d"), rec(10*time.Second, slog.LevelInfo, "e")}
			},
			want: []string{"INFO a", "INFO b", "INFO c", "INFO e"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture()
			h := Limit(c, 6, 3, time.Minute) // one token per 10 s, 3 at once
			for _, r := range tt.records() {
				if err := h.Handle(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			if got := strings.Join(*c.lines, "\n"); got != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Derived handlers share one budget, and a repeat's summary goes to the
// handler (attrs) its first line went to.
func TestLimitShared(t *testing.T) {
	c := newCapture()
	h := Limit(c, 6, 1, time.Minute)
	a := h.WithAttrs([]slog.Attr{slog.String("logger", "tls")})
	b := h.WithAttrs([]slog.Attr{slog.String("logger", "http")})
	t0 := time.Now()
	for _, r := range []struct {
		h   slog.Handler
		msg string
	}{{a, "x"}, {b, "y"}, {a, "x"}} {
		_ = r.h.Handle(context.Background(), slog.NewRecord(t0, slog.LevelInfo, r.msg, 0))
	}
	h.st.mu.Lock()
	h.st.start = t0.Add(-2 * time.Minute) // the window is over
	h.st.mu.Unlock()
	h.Flush()
	want := []string{"INFO x logger=tls", "WARN 1 log records over the rate limit were not written in the last 1m0s", "INFO x (repeated 1 more times in the last 1m0s) logger=tls"}
	got := *c.lines
	if len(got) != 3 || got[0] != want[0] || !containsAll(got[1:], want[1:]) {
		t.Errorf("got %q, want %q (summaries in any order)", got, want)
	}
}

func containsAll(got, want []string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}
