package logpipe

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter counts bytes and lines (one record per Write for slog's
// built-in handlers) on their way to w.
type countingWriter struct {
	mu           sync.Mutex
	w            io.Writer
	bytes, lines int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.bytes += int64(len(b))
	c.lines++
	c.mu.Unlock()
	return c.w.Write(b)
}

// floodInputs are the kinds of input a flood can be: the incident's retry
// loop and distinct random lines, the worst case for collapsing.
var floodInputs = []struct {
	name string
	gen  func(rng *rand.Rand, now time.Time, i int) string
}{
	{"retry_loop", retryLoopLine},
	{"distinct", func(rng *rand.Rand, _ time.Time, _ int) string {
		w := make([]string, 8)
		for k := range w {
			w[k] = vocabulary[rng.IntN(len(vocabulary))]
		}
		return "\x1b[36m[agent]\x1b[39m " + strings.Join(w, " ")
	}},
}

// precompute renders n input lines so the benchmark times the Pipe, not
// the generator.
func precompute(gen func(*rand.Rand, time.Time, int) string, n int) [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	now := newFakeClock().Now()
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(gen(rng, now.Add(time.Duration(i)*time.Millisecond), i) + "\n")
	}
	return out
}

// BenchmarkFlood pushes lines at a simulated 1,000 lines/s through a Pipe
// into a slog.TextHandler writing to a RotatingFile, and reports the output
// bytes per input line.
func BenchmarkFlood(b *testing.B) {
	for _, in := range floodInputs {
		b.Run(in.name, func(b *testing.B) {
			lines := precompute(in.gen, 4096)
			rf, err := OpenRotating(filepath.Join(b.TempDir(), "gateway.log"), 1<<20, 2)
			if err != nil {
				b.Fatal(err)
			}
			defer rf.Close()
			cw := &countingWriter{w: rf}
			clk := newFakeClock()
			p := New(Options{
				Logger: slog.New(slog.NewTextHandler(cw, nil)),
				Attrs:  []slog.Attr{slog.String("stream", "stdout")},
				Now:    clk.Now,
			})
			var inBytes, n int64
			b.ReportAllocs()
			for ; b.Loop(); n++ {
				l := lines[n%int64(len(lines))]
				inBytes += int64(len(l))
				p.Write(l)
				clk.Advance(time.Millisecond)
			}
			p.Close()
			b.SetBytes(inBytes / max(n, 1))
			b.ReportMetric(float64(cw.bytes)/float64(max(n, 1)), "out_B/line")
		})
	}
}

// BenchmarkFlood60s simulates 60 s at 1,000 lines/s per iteration and
// reports what reaches the log: records (lines_out) and bytes (bytes_out).
func BenchmarkFlood60s(b *testing.B) {
	const perSec, secs = 1000, 60
	for _, in := range floodInputs {
		b.Run(in.name, func(b *testing.B) {
			lines := precompute(in.gen, perSec*secs)
			var inBytes int64
			for _, l := range lines {
				inBytes += int64(len(l))
			}
			b.SetBytes(inBytes)
			b.ReportAllocs()
			var outLines, outBytes int64
			for b.Loop() {
				cw := &countingWriter{w: io.Discard}
				clk := newFakeClock()
				p := New(Options{
					Logger: slog.New(slog.NewTextHandler(cw, nil)),
					Attrs:  []slog.Attr{slog.String("stream", "stdout")},
					Now:    clk.Now,
				})
				for _, l := range lines {
					p.Write(l)
					clk.Advance(time.Second / perSec)
				}
				p.Close()
				outLines, outBytes = cw.lines, cw.bytes
			}
			b.ReportMetric(float64(outLines), "lines_out")
			b.ReportMetric(float64(outBytes), "bytes_out")
			b.ReportMetric(float64(inBytes), "bytes_in")
		})
	}
}
