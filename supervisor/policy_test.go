package supervisor

import (
	"strings"
	"testing"
	"time"
)

func TestTrackerNext(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	crash := Exit{Code: 1, Started: true, Uptime: time.Second}
	type step struct {
		exit      Exit
		after     time.Duration // since t0
		restart   bool
		delay     time.Duration
		crash     bool
		reasonHas string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first crash restarts at once", []step{
			{crash, 0, true, 0, true, "(exit code 1); restarting now"},
		}},
		{"crashes back off exponentially to the cap", []step{
			{crash, 0, true, 0, true, "restarting now"},
			{crash, time.Second, true, time.Second, true, "crash 2 in a row, next start in 1s"},
			{crash, 2 * time.Second, true, 2 * time.Second, true, "crash 3"},
			{crash, 3 * time.Second, true, 4 * time.Second, true, ""},
			{crash, 4 * time.Second, true, 8 * time.Second, true, "crash loop: 5 crashes within 10m0s"},
			{crash, 5 * time.Second, true, 10 * time.Second, true, ""},
			{crash, 6 * time.Second, true, 10 * time.Second, true, ""},
		}},
		{"a stable run resets the count", []step{
			{crash, 0, true, 0, true, ""},
			{crash, time.Second, true, time.Second, true, ""},
			{Exit{Code: 1, Started: true, Uptime: time.Hour}, time.Hour, true, 0, true, "restarting now"},
		}},
		{"config error stops", []step{
			{Exit{Code: 78, Detail: `Unrecognized key: "bogus"`}, 0, false, 0, false, `refused its configuration (exit code 78); not restarting: Unrecognized key: "bogus"`},
		}},
		{"exit 0 after start is a restart request, not a crash", []step{
			{crash, 0, true, 0, true, ""},
			{crash, time.Second, true, time.Second, true, ""},
			{Exit{Code: 0, Started: true}, 2 * time.Second, true, 0, false, "asked for a restart"},
		}},
		{"exit 0 before start is a crash", []step{
			{Exit{Code: 0}, 0, true, 0, true, "code 0 before it finished starting"},
			{Exit{Code: 0}, time.Second, true, time.Second, true, ""},
		}},
		{"restart requests in a loop get delayed", []step{
			{Exit{Code: 0, Started: true}, 0, true, 0, false, ""},
			{Exit{Code: 0, Started: true}, 1 * time.Second, true, 0, false, ""},
			{Exit{Code: 0, Started: true}, 2 * time.Second, true, 0, false, ""},
			{Exit{Code: 0, Started: true}, 3 * time.Second, true, 0, false, ""},
			{Exit{Code: 0, Started: true}, 4 * time.Second, true, 0, false, ""},
			{Exit{Code: 0, Started: true}, 5 * time.Second, true, time.Second, false, "restart loop: the gateway asked for a restart 6 times within 1m0s"},
			{Exit{Code: 0, Started: true}, 6 * time.Second, true, 2 * time.Second, false, "7 times"},
			{Exit{Code: 0, Started: true}, 7 * time.Second, true, 4 * time.Second, false, ""},
		}},
		{"requested stop restarts at once", []step{
			{Exit{Code: 0, Requested: true, Started: true}, 0, true, 0, false, "restart requested"},
		}},
		{"signal is described", []step{
			{Exit{Code: -1, Signal: "SIGKILL", Started: true}, 0, true, 0, true, "killed by SIGKILL"},
		}},
		{"hang is a crash with its cause", []step{
			{Exit{Code: -1, Signal: "SIGKILL", Started: true, Cause: "hung: no answer"}, 0, true, 0, true, "hung: no answer; restarting now"},
		}},
		{"fatal never restarts", []step{
			{Exit{Code: -1, Fatal: true, Cause: "listening on 0.0.0.0:18789"}, 0, false, 0, false, "0.0.0.0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(Policy{MinDelay: time.Second, MaxDelay: 10 * time.Second, StableAfter: time.Minute,
				Rand: func() float64 { return 0.5 }})
			for i, s := range tt.steps {
				d := tr.Next(s.exit, t0.Add(s.after))
				if d.Restart != s.restart || d.Delay != s.delay || d.Crash != s.crash || !strings.Contains(d.Reason, s.reasonHas) {
					t.Fatalf("step %d: got %+v; want restart=%v delay=%v crash=%v reason containing %q",
						i, d, s.restart, s.delay, s.crash, s.reasonHas)
				}
			}
		})
	}
}

func TestTrackerJitterStaysWithinBounds(t *testing.T) {
	for _, r := range []float64{0, 0.25, 0.999} {
		tr := NewTracker(Policy{MinDelay: time.Second, MaxDelay: 8 * time.Second, Rand: func() float64 { return r }})
		now := time.Now()
		for i := range 10 {
			d := tr.Next(Exit{Code: 1}, now)
			if i > 0 && (d.Delay < time.Second || d.Delay > 8*time.Second) {
				t.Fatalf("rand %v crash %d: delay %v outside [1s, 8s]", r, i+1, d.Delay)
			}
		}
	}
}

func TestStateText(t *testing.T) {
	for s := Stopped; s <= Failed; s++ {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v: round trip gave %v, %v", s, back, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("bogus state accepted")
	}
}
