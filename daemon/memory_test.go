package daemon

import (
	"math"
	"testing"
	"time"
)

func TestTrend(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	line := func(n int, every time.Duration, mbPerHour float64) []memSample {
		var s []memSample
		for i := range n {
			at := t0.Add(time.Duration(i) * every)
			s = append(s, memSample{at, int64((900 + mbPerHour*at.Sub(t0).Hours()) * (1 << 20))})
		}
		return s
	}
	tests := []struct {
		name    string
		samples []memSample
		want    float64
		ok      bool
	}{
		{"flat", line(60, 30*time.Second, 0), 0, true},
		{"leak of 120 MB/h", line(60, 30*time.Second, 120), 120, true},
		{"shrinking", line(20, time.Minute, -30), -30, true},
		{"under 5 minutes is no trend", line(9, 30*time.Second, 500), 0, false},
		{"too few samples", line(2, 10*time.Minute, 10), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := trend(tt.samples)
			if ok != tt.ok || math.Abs(got-tt.want) > 0.5 {
				t.Errorf("trend = %.2f, %v; want %.2f, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
