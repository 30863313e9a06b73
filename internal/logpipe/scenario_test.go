package logpipe

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// retryLoopLine returns line i of a gateway retry loop cycling through three
// coloured messages whose timestamps, counters, durations and ids change.
func retryLoopLine(rng *rand.Rand, now time.Time, i int) string {
	ts := "\x1b[90m" + now.Format(time.RFC3339Nano) + "\x1b[39m "
	switch i % 3 {
	case 0:
		return fmt.Sprintf("%s\x1b[33m[ws]\x1b[39m connect attempt %d to ws://127.0.0.1:18789 failed: ECONNREFUSED", ts, i/3+1)
	case 1:
		return fmt.Sprintf("%s\x1b[36m[gateway]\x1b[39m retrying in %dms (backoff %d/%d)", ts, rng.IntN(5000), rng.IntN(10), 10)
	default:
		return fmt.Sprintf("%s\x1b[31m[auth]\x1b[39m token refresh failed for session %08x-%04x-4%03x-%04x-%012x: status 503",
			ts, rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<16), rng.Int64N(1<<48))
	}
}

// TestPipeRetryLoopHour replays the incident: an hour of a retry loop at
// ~72 ms per line (50,000 lines) must shrink to at most 300 records while
// every distinct message is still shown at least once.
func TestPipeRetryLoopHour(t *testing.T) {
	const lines = 50_000
	p, h, clk := newTestPipe(Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range lines {
		if _, err := p.Write([]byte(retryLoopLine(rng, clk.Now(), i) + "\n")); err != nil {
			t.Fatal(err)
		}
		clk.Advance(72 * time.Millisecond)
	}
	p.Close()

	recs := h.records()
	st := p.Stats()
	t.Logf("%d lines -> %d records (%+v)", lines, len(recs), st)
	if len(recs) > 300 {
		t.Errorf("%d records for an hour of retry loop, want <= 300", len(recs))
	}
	for _, marker := range []string{"[ws] connect attempt", "[gateway] retrying in", "[auth] token refresh failed"} {
		shown := false
		for _, r := range recs {
			shown = shown || strings.Contains(r.Msg, marker) && !strings.HasPrefix(r.Msg, "repeated")
		}
		if !shown {
			t.Errorf("no record shows %q on its own", marker)
		}
	}
	var repeated uint64
	for _, r := range recs {
		if v, ok := r.Attrs["repeated"]; ok {
			repeated += v.Uint64()
		}
		if strings.Contains(r.Msg, "\x1b") {
			t.Fatalf("record keeps ANSI codes: %q", r.Msg)
		}
	}
	if st.Lines != lines || st.Forwarded+st.Collapsed != lines || repeated != st.Collapsed {
		t.Errorf("stats %+v, summaries count %d repeats: every line must be forwarded or counted", st, repeated)
	}
}

var vocabulary = strings.Fields(`agent channel session token socket client server gateway
	plugin message thread user model reply stream queue cache config device node
	heartbeat update sync retry timeout error warning notice ready closed opened
	accepted rejected pending started stopped loaded saved sent received parsed`)

// TestPipeFloodDistinct sends 60 s of 1,000 distinct lines per second: the
// output must stay within the rate limit plus the bounded summaries.
func TestPipeFloodDistinct(t *testing.T) {
	const perSec, secs = 1000, 60
	p, h, clk := newTestPipe(Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	for range perSec * secs {
		w := make([]string, 6)
		for k := range w {
			w[k] = vocabulary[rng.IntN(len(vocabulary))]
		}
		p.Write([]byte(strings.Join(w, " ") + "\n"))
		clk.Advance(time.Second / perSec)
	}
	p.Close()

	st := p.Stats()
	recs := h.records()
	t.Logf("%d lines -> %d records (%+v)", perSec*secs, len(recs), st)
	// Burst plus 60 s of refill at 120/min, +1 for float rounding.
	if maxFwd := uint64(DefaultBurst + DefaultMaxLinesPerMinute*secs/60 + 1); st.Forwarded > maxFwd {
		t.Errorf("forwarded %d lines, want <= %d", st.Forwarded, maxFwd)
	}
	// Two flush periods (the 60 s mark and Close), each with at most Window
	// eviction summaries, Window flush summaries and two notices.
	if maxRecs := st.Forwarded + 2*(2*DefaultWindow+2); uint64(len(recs)) > maxRecs {
		t.Errorf("%d records, want <= %d", len(recs), maxRecs)
	}
	var suppressed uint64
	for _, r := range recs {
		if strings.HasPrefix(r.Msg, "suppressed") && strings.Contains(r.Msg, "rate limit 120/min") {
			suppressed += r.Attrs["suppressed"].Uint64()
		}
	}
	if suppressed != st.RateLimited || st.Forwarded+st.Collapsed+st.RateLimited != st.Lines {
		t.Errorf("notices report %d dropped, stats %+v", suppressed, st)
	}
}
