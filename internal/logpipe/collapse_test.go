package logpipe

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

type step struct {
	at   time.Duration // since the start of the test clock
	line string
}

// runSteps writes each line at its time, closes at closeAt and returns the
// messages recorded.
func runSteps(t *testing.T, o Options, steps []step, closeAt time.Duration) ([]string, *Pipe) {
	t.Helper()
	p, h, clk := newTestPipe(o)
	start := clk.Now()
	for _, s := range steps {
		clk.Advance(start.Add(s.at).Sub(clk.Now()))
		if _, err := p.Write([]byte(s.line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(start.Add(closeAt).Sub(clk.Now()))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return h.msgs(), p
}

func TestPipeCollapse(t *testing.T) {
	tests := []struct {
		name    string
		window  int
		steps   []step
		closeAt time.Duration
		want    []string
	}{
		{
			name:    "consecutive repeats",
			steps:   []step{{0, "attempt 1 failed"}, {time.Second, "attempt 2 failed"}, {2 * time.Second, "attempt 3 failed"}},
			closeAt: 10 * time.Second,
			want:    []string{"attempt 1 failed", "repeated 2 times in 10s: attempt 3 failed"},
		},
		{
			name: "cycle of three lines",
			steps: []step{
				{0, "connect 1"}, {1 * time.Second, "refused 1"}, {2 * time.Second, "retry in 100ms"},
				{3 * time.Second, "connect 2"}, {4 * time.Second, "refused 2"}, {5 * time.Second, "retry in 200ms"},
				{6 * time.Second, "connect 3"},
			},
			closeAt: 10 * time.Second,
			want: []string{
				"connect 1", "refused 1", "retry in 100ms",
				"repeated 1 time in 9s: refused 2",
				"repeated 1 time in 8s: retry in 200ms",
				"repeated 2 times in 10s: connect 3",
			},
		},
		{
			name:    "pattern leaving the window is summarised then",
			window:  2,
			steps:   []step{{0, "a 1"}, {time.Second, "a 2"}, {2 * time.Second, "b"}, {3 * time.Second, "c"}},
			closeAt: 4 * time.Second,
			want:    []string{"a 1", "b", "repeated 1 time in 3s: a 2", "c"},
		},
		{
			name:    "summaries flushed every FlushEvery",
			steps:   []step{{0, "tick 1"}, {30 * time.Second, "tick 2"}, {60 * time.Second, "tick 3"}},
			closeAt: 90 * time.Second,
			want:    []string{"tick 1", "repeated 1 time in 60s: tick 2", "repeated 1 time in 30s: tick 3"},
		},
		{
			name:    "pattern not seen lately is shown again",
			steps:   []step{{0, "idle 1"}, {5 * time.Minute, "idle 2"}},
			closeAt: 6 * time.Minute,
			want:    []string{"idle 1", "idle 2"},
		},
		{
			name:    "collapsing disabled",
			window:  -1,
			steps:   []step{{0, "x 1"}, {time.Second, "x 2"}},
			closeAt: 2 * time.Second,
			want:    []string{"x 1", "x 2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := runSteps(t, Options{Window: tt.window, MaxLinesPerMinute: -1}, tt.steps, tt.closeAt)
			if !slices.Equal(got, tt.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPipeRateLimit(t *testing.T) {
	distinct := func(at time.Duration, from, n int) []step {
		var s []step
		for i := from; i < from+n; i++ {
			s = append(s, step{at, "event " + word(i)})
		}
		return s
	}
	tests := []struct {
		name          string
		opts          Options
		steps         []step
		wantForwarded uint64
		wantNotice    string
		wantLevel     slog.Level
	}{
		{
			name:          "burst then refill",
			opts:          Options{MaxLinesPerMinute: 60, Burst: 5},
			steps:         append(distinct(0, 0, 10), distinct(2*time.Second, 10, 3)...),
			wantForwarded: 7,
			wantNotice:    "suppressed 6 lines (rate limit 60/min)",
			wantLevel:     slog.LevelWarn,
		},
		{
			name:          "notice keeps a higher level",
			opts:          Options{Level: slog.LevelError, MaxLinesPerMinute: 60, Burst: 1},
			steps:         distinct(0, 0, 3),
			wantForwarded: 1,
			wantNotice:    "suppressed 2 lines (rate limit 60/min)",
			wantLevel:     slog.LevelError,
		},
		{
			name:          "unlimited",
			opts:          Options{MaxLinesPerMinute: -1},
			steps:         distinct(0, 0, 500),
			wantForwarded: 500,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, h, clk := newTestPipe(tt.opts)
			start := clk.Now()
			for _, s := range tt.steps {
				clk.Advance(start.Add(s.at).Sub(clk.Now()))
				p.Write([]byte(s.line + "\n"))
			}
			p.Close()
			st := p.Stats()
			if st.Forwarded != tt.wantForwarded || st.Forwarded+st.RateLimited != uint64(len(tt.steps)) {
				t.Errorf("stats = %+v, want Forwarded %d and the rest rate-limited", st, tt.wantForwarded)
			}
			var notices []record
			for _, r := range h.records() {
				if strings.HasPrefix(r.Msg, "suppressed") {
					notices = append(notices, r)
				}
			}
			switch {
			case tt.wantNotice == "" && len(notices) > 0:
				t.Errorf("unexpected notices %+v", notices)
			case tt.wantNotice != "" && (len(notices) != 1 || notices[0].Msg != tt.wantNotice || notices[0].Level != tt.wantLevel):
				t.Errorf("notices = %+v, want one %q at %v", notices, tt.wantNotice, tt.wantLevel)
			}
		})
	}
}

// TestPipeSummaryBudget churns a repeated pattern out of the window over and
// over; summaries must stay bounded and the rest be counted in one notice.
func TestPipeSummaryBudget(t *testing.T) {
	var steps []step
	for i := range 20 {
		at := time.Duration(i) * time.Second
		steps = append(steps, step{at, "x 1"}, step{at, "x 2"}, step{at, "y " + word(2*i)}, step{at, "y " + word(2*i+1)})
	}
	got, p := runSteps(t, Options{Window: 2, MaxLinesPerMinute: -1}, steps, 30*time.Second)
	var summaries int
	for _, m := range got {
		if strings.HasPrefix(m, "repeated") {
			summaries++
		}
	}
	if summaries > 2 {
		t.Errorf("%d repeat summaries in one period, want <= Window (2)", summaries)
	}
	if want := "suppressed 18 repeated lines (summary limit 2 per 60s)"; !slices.Contains(got, want) {
		t.Errorf("records %q lack %q", got, want)
	}
	if st := p.Stats(); st.Collapsed != 20 {
		t.Errorf("Collapsed = %d, want 20", st.Collapsed)
	}
}
