package fetch

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// recorder keeps log messages.
type recorder struct{ msgs *[]string }

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	*r.msgs = append(*r.msgs, rec.Message)
	return nil
}
func (r recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r recorder) WithGroup(string) slog.Handler      { return r }

type call struct {
	at          time.Duration // since the first call
	done, total int64
}

func TestProgress(t *testing.T) {
	const size = 29_800_000
	tests := []struct {
		name    string
		tty     bool
		calls   []call
		want    []string // log messages, or \r-separated tty frames
		wantEnd string   // tty: output suffix
	}{
		{name: "log every 5s and at 100%", calls: []call{
			{0, 0, size}, {time.Second, size / 10, size}, {6 * time.Second, size * 35 / 100, size},
			{8 * time.Second, size * 40 / 100, size}, {9 * time.Second, size, size}, {20 * time.Second, size, size},
		}, want: []string{"downloading node: 0% of 29.8 MB", "downloading node: 35% of 29.8 MB", "downloading node: 100% of 29.8 MB"}},
		{name: "log unknown total", calls: []call{{0, 0, -1}, {time.Second, 5e6, -1}, {6 * time.Second, 7e6, -1}, {7 * time.Second, 8e6, 8e6}},
			want: []string{"downloading node: 0.0 MB", "downloading node: 7.0 MB", "downloading node: 100% of 8.0 MB"}},
		{name: "tty redraws on change", tty: true, calls: []call{
			{0, 0, size}, {0, 1, size}, {0, size / 2, size}, {0, size/2 + 1, size}, {0, size, size},
		}, want: []string{
			"downloading node: [                              ]   0% of 29.8 MB\x1b[K",
			"downloading node: [===============               ]  50% of 29.8 MB\x1b[K",
			"downloading node: [==============================] 100% of 29.8 MB\x1b[K\n",
		}},
		{name: "tty unknown total", tty: true, calls: []call{{0, 0, -1}, {time.Millisecond, 1e6, -1}, {time.Second, 2e6, -1}},
			want: []string{"downloading node: 0.0 MB\x1b[K", "downloading node: 2.0 MB\x1b[K"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			var msgs []string
			start, now := time.Unix(1e9, 0), time.Duration(0)
			p := newProgress(&out, tt.tty, "downloading node", slog.New(recorder{&msgs}), func() time.Time { return start.Add(now) })
			for _, c := range tt.calls {
				now = c.at
				p(c.done, c.total)
			}
			got := msgs
			if tt.tty {
				got = strings.Split(out.String(), "\r")[1:]
				if len(msgs) != 0 {
					t.Errorf("tty mode logged %q", msgs)
				}
			} else if out.Len() != 0 {
				t.Errorf("log mode wrote %q", out.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
