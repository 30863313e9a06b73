package logpipe

import (
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openclawd/openclawd/internal/redact"
)

func TestPipeLines(t *testing.T) {
	tests := []struct {
		name          string
		opts          Options
		writes        []string
		want          []string
		wantTruncated uint64
	}{
		{name: "splits lines across writes", writes: []string{"hel", "lo\nwor", "ld\n"}, want: []string{"hello", "world"}},
		{name: "partial line kept until close", writes: []string{"a\nb"}, want: []string{"a", "b"}},
		{name: "empty and escape-only lines skipped", writes: []string{"\n\x1b[0m\n  \r\n x\n"}, want: []string{" x"}},
		{name: "CRLF", writes: []string{"one\r\ntwo\r\n"}, want: []string{"one", "two"}},
		{
			name:   "ANSI stripped",
			writes: []string{"\x1b[90m03:00:00\x1b[39m \x1b[36m[gateway]\x1b[39m listening on ws://127.0.0.1:18789\n"},
			want:   []string{"03:00:00 [gateway] listening on ws://127.0.0.1:18789"},
		},
		{
			name:          "long line cut with note",
			opts:          Options{MaxLineBytes: 10},
			writes:        []string{"abcdefghijklmnop\n"},
			want:          []string{"abcdefghij …[6 bytes cut]"},
			wantTruncated: 1,
		},
		{
			name:          "endless line held within bound",
			opts:          Options{MaxLineBytes: 10},
			writes:        []string{strings.Repeat("x", 100_000), strings.Repeat("y", 5)},
			want:          []string{"xxxxxxxxxx …[99,995 bytes cut]"},
			wantTruncated: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Attrs = []slog.Attr{slog.String("stream", "stdout")}
			tt.opts.MaxLinesPerMinute = -1
			p, h, _ := newTestPipe(tt.opts)
			for _, w := range tt.writes {
				if n, err := p.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if len(p.partial) > p.rawCap {
				t.Errorf("held %d bytes, cap %d", len(p.partial), p.rawCap)
			}
			if err := p.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := h.msgs(); !slices.Equal(got, tt.want) {
				t.Errorf("records = %q, want %q", got, tt.want)
			}
			for _, r := range h.records() {
				if len(r.Attrs) != 1 || r.Attrs["stream"].String() != "stdout" || r.Level != slog.LevelInfo {
					t.Errorf("record %q: level %v attrs %v; want INFO and only stream=stdout", r.Msg, r.Level, r.Attrs)
				}
			}
			if st := p.Stats(); st.Truncated != tt.wantTruncated || st.Lines != uint64(len(tt.want)) {
				t.Errorf("stats = %+v, want Lines %d Truncated %d", st, len(tt.want), tt.wantTruncated)
			}
		})
	}
}

func TestPipeTail(t *testing.T) {
	tests := []struct {
		name     string
		keepTail int
		lines    string
		want     []string
	}{
		{"fewer than kept", 3, "a\nb\n", []string{"a", "b"}},
		{"keeps last, oldest first", 3, "a\nb\nc\nd\n\x1b[31me\x1b[0m\n", []string{"c", "d", "e"}},
		{"includes collapsed lines", 2, "retry 1\nretry 2\nretry 3\n", []string{"retry 2", "retry 3"}},
		{"disabled", -1, "a\nb\n", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, _ := newTestPipe(Options{KeepTail: tt.keepTail})
			if _, err := p.Write([]byte(tt.lines)); err != nil {
				t.Fatal(err)
			}
			if got := p.Tail(); !slices.Equal(got, tt.want) {
				t.Errorf("Tail = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPipeWriteAfterClose(t *testing.T) {
	p, _, _ := newTestPipe(Options{})
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := p.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
}

func TestNewRequiresLogger(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without Logger did not panic")
		}
	}()
	New(Options{})
}

// TestPipeConcurrent runs writers against readers for the race detector.
func TestPipeConcurrent(t *testing.T) {
	p, h, clk := newTestPipe(Options{MaxLinesPerMinute: -1})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				p.Write([]byte("worker " + word(g) + " line " + word(i) + "\n"))
				clk.Advance(1)
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				p.Tail()
				p.Stats()
				p.Flush()
			}
		}()
	}
	wg.Wait()
	p.Close()
	st := p.Stats()
	if st.Lines != 2000 || st.Forwarded+st.Collapsed+st.RateLimited != st.Lines {
		t.Errorf("stats = %+v; want 2000 lines all accounted for", st)
	}
	if got := uint64(len(h.records())); got != st.Forwarded+st.Summaries {
		t.Errorf("%d records, want Forwarded+Summaries = %d", got, st.Forwarded+st.Summaries)
	}
}

func TestPipeRedact(t *testing.T) {
	h := &recHandler{}
	p := New(Options{Logger: slog.New(h), Redact: func(s string) string {
		return strings.ReplaceAll(s, "s3cret", "[redacted]")
	}})
	p.Write([]byte("dashboard: http://127.0.0.1:18789/#token=s3cret\n"))
	p.Close()
	msgs := h.msgs()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "#token=[redacted]") {
		t.Fatalf("records %q; want one with the token redacted", msgs)
	}
	for _, l := range p.Tail() {
		if strings.Contains(l, "s3cret") {
			t.Fatalf("token kept in the tail: %q", l)
		}
	}
}

// OnLine sees every line, also those the rate limit and collapsing drop,
// cleaned and with secrets masked.
func TestPipeOnLine(t *testing.T) {
	var seen []string
	var secrets redact.Set
	secrets.Update("s3cr3t-token-value")
	p, _, _ := newTestPipe(Options{MaxLinesPerMinute: 1, Burst: 1, Secrets: &secrets, OnLine: func(l string) { seen = append(seen, l) }})
	if _, err := p.Write([]byte("retry 1\nretry 2\n\x1b[31mbreaker tripped\x1b[0m\ntoken s3cr3t-token-value\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{"retry 1", "retry 2", "breaker tripped", "token [redacted]"}
	if !slices.Equal(seen, want) {
		t.Errorf("OnLine saw %q, want %q", seen, want)
	}
}
