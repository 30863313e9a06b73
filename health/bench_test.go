package health_test

import (
	"context"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

// BenchmarkHangDetection measures the time from the hang cue to the hung
// callback against the configured window Interval*Failures. Each iteration
// starts a fresh fake gateway; only the detection is timed.
func BenchmarkHangDetection(b *testing.B) {
	cases := []struct {
		name     string
		interval time.Duration
		timeout  time.Duration
		failures int
		deep     bool
	}{
		{name: "interval100ms_timeout200ms_x3", interval: 100 * time.Millisecond, timeout: 200 * time.Millisecond, failures: 3},
		{name: "interval200ms_timeout100ms_x3", interval: 200 * time.Millisecond, timeout: 100 * time.Millisecond, failures: 3},
		{name: "interval100ms_timeout200ms_x3_deep", interval: 100 * time.Millisecond, timeout: 200 * time.Millisecond, failures: 3, deep: true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				b.StopTimer()
				total += detectOnce(b, bc.interval, bc.timeout, bc.failures, bc.deep)
			}
			window := bc.interval * time.Duration(bc.failures)
			avg := total / time.Duration(b.N)
			b.ReportMetric(0, "ns/op") // the setup dominates wall time; the metrics below are the result
			b.ReportMetric(float64(avg.Milliseconds()), "detect-ms")
			b.ReportMetric(float64(window.Milliseconds()), "window-ms")
			b.ReportMetric(float64(avg)/float64(window), "detect/window")
		})
	}
}

// detectOnce runs one fake, hangs it and returns how long Watch took.
func detectOnce(b *testing.B, interval, timeout time.Duration, failures int, deep bool) time.Duration {
	f := startFake(b, "FAKE_GATEWAY_TICK_MS=100")
	defer func() { _ = f.Cmd.Process.Kill(); <-f.Done }() // don't keep hung fakes until the benchmark ends
	c := checker(b, f.Port, func(o *health.Options) {
		o.Interval, o.Timeout, o.Failures, o.Deep = interval, timeout, failures, deep
	})
	if err := c.Started(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hung := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Watch(ctx, func(string) { hung <- time.Now() })
	}()
	defer func() { cancel(); <-done }()
	fgtest.WaitFor(b, 10*time.Second, "a passed check", func() bool {
		s := c.Snapshot()
		return s.Passes >= 2 && (!deep || s.Deep.HelloOK)
	})
	b.StartTimer()
	start := time.Now()
	f.cue(b, "hang")
	select {
	case at := <-hung:
		b.StopTimer()
		return at.Sub(start)
	case <-time.After(30 * time.Second):
		b.Fatal("hang not detected within 30s")
		return 0
	}
}
