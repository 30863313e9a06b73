package supervisor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// ExitConfig is the exit code by which the gateway says its config is
// invalid (EX_CONFIG); respawning cannot help (openclaw-gateway.md §6).
const ExitConfig = 78

// Policy is the restart policy.
type Policy struct {
	MinDelay    time.Duration // backoff after the second crash in a row
	MaxDelay    time.Duration // backoff cap
	StableAfter time.Duration // healthy uptime that resets the crash count
	// NoRestartCodes end in Failed (default {78}).
	NoRestartCodes []int
	// RequestBurst restart requests (exit 0) per RequestWindow restart at
	// once; more wait MinDelay, so a gateway exiting 0 in a loop can't spin.
	RequestBurst  int
	RequestWindow time.Duration
	// CrashLoopCount crashes within CrashLoopWindow raise a crash-loop warning.
	CrashLoopCount  int
	CrashLoopWindow time.Duration
	// Rand returns a value in [0, 1) for jitter; tests pin it.
	Rand func() float64
}

func (p *Policy) setDefaults() {
	if p.MinDelay <= 0 {
		p.MinDelay = time.Second
	}
	if p.MaxDelay < p.MinDelay {
		p.MaxDelay = max(p.MinDelay, 2*time.Minute)
	}
	if p.StableAfter <= 0 {
		p.StableAfter = 5 * time.Minute
	}
	if p.NoRestartCodes == nil {
		p.NoRestartCodes = []int{ExitConfig}
	}
	if p.RequestBurst <= 0 {
		p.RequestBurst = 5
	}
	if p.RequestWindow <= 0 {
		p.RequestWindow = time.Minute
	}
	if p.CrashLoopCount <= 0 {
		p.CrashLoopCount = 5
	}
	if p.CrashLoopWindow <= 0 {
		p.CrashLoopWindow = 10 * time.Minute
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
}

// Exit describes how one gateway process ended.
type Exit struct {
	Code      int           // exit code; -1 if killed by a signal or never run
	Signal    string        // signal name if killed by one
	Requested bool          // openclawd asked for this stop
	Started   bool          // it had reported started
	Uptime    time.Duration // time since it reported started
	Cause     string        // openclawd's own reason, e.g. "hung: …"; overrides the exit in Reason
	Fatal     bool          // never restart (a security violation)
	Detail    string        // the last stderr lines, for the reason
}

// Describe is the exit in a few words: "exit code 1", "killed by SIGKILL".
func (e Exit) Describe() string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	if e.Code < 0 {
		return "did not run"
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// Decision is what to do after an exit.
type Decision struct {
	Restart bool
	Delay   time.Duration
	Crash   bool   // counted toward the backoff
	Reason  string // shown as-is by `openclawd status`
}

// Tracker applies a Policy to a sequence of exits. It never reads the clock
// or sleeps: the caller passes now.
type Tracker struct {
	p        Policy
	crashes  int         // consecutive, since the last stable run
	recent   []time.Time // crash times, for the crash-loop warning
	requests []time.Time // unrequested exit-0 times
}

// NewTracker returns a Tracker; zero Policy fields get defaults.
func NewTracker(p Policy) *Tracker {
	p.setDefaults()
	return &Tracker{p: p}
}

// Reset forgets past crashes, as after `openclawd restart`.
func (t *Tracker) Reset() { t.crashes, t.recent, t.requests = 0, nil, nil }

// Crashes is the number of consecutive crashes.
func (t *Tracker) Crashes() int { return t.crashes }

// CrashLoop reports whether the recent crashes amount to a crash loop.
func (t *Tracker) CrashLoop(now time.Time) bool {
	return countSince(t.recent, now.Add(-t.p.CrashLoopWindow)) >= t.p.CrashLoopCount
}

// Next records one exit at now and decides what follows.
func (t *Tracker) Next(e Exit, now time.Time) Decision {
	if e.Started && e.Uptime >= t.p.StableAfter {
		t.crashes = 0
	}
	switch {
	case e.Fatal:
		return Decision{Reason: e.Cause}
	case e.Requested:
		return Decision{Restart: true, Reason: "restart requested"}
	case e.Signal == "" && slices.Contains(t.p.NoRestartCodes, e.Code):
		r := fmt.Sprintf("the gateway refused its configuration (exit code %d); not restarting", e.Code)
		if e.Detail != "" {
			r += ": " + e.Detail
		}
		return Decision{Reason: r}
	case e.Code == 0 && e.Signal == "" && e.Started && e.Cause == "":
		t.requests = append(keepSince(t.requests, now.Add(-t.p.RequestWindow)), now)
		if excess := len(t.requests) - t.p.RequestBurst; excess > 0 {
			// A gateway that exits 0 in a loop costs a start each time:
			// back off as for crashes, without counting them as crashes.
			d := t.p.MinDelay
			for i := 1; i < excess && d < t.p.MaxDelay; i++ {
				d *= 2
			}
			d = min(d, t.p.MaxDelay)
			return Decision{Restart: true, Delay: d,
				Reason: fmt.Sprintf("restart loop: the gateway asked for a restart %d times within %s; next start in %s", len(t.requests), t.p.RequestWindow, d)}
		}
		return Decision{Restart: true, Reason: "the gateway asked for a restart (exit code 0)"}
	}
	t.crashes++
	t.recent = append(keepSince(t.recent, now.Add(-t.p.CrashLoopWindow)), now)
	what := e.Cause
	if what == "" {
		what = "the gateway exited unexpectedly (" + e.Describe() + ")"
		if e.Code == 0 {
			what = "the gateway exited with code 0 before it finished starting"
		}
	}
	d := t.delay()
	if d == 0 {
		return Decision{Restart: true, Crash: true, Reason: what + "; restarting now"}
	}
	r := fmt.Sprintf("%s; crash %d in a row, next start in %s", what, t.crashes, d.Round(100*time.Millisecond))
	if t.CrashLoop(now) {
		r = fmt.Sprintf("crash loop: %d crashes within %s. %s", countSince(t.recent, now.Add(-t.p.CrashLoopWindow)), t.p.CrashLoopWindow, r)
	}
	return Decision{Restart: true, Crash: true, Delay: d, Reason: r}
}

// delay is 0 for the first crash in a row, so a one-off crash costs no
// downtime; then MinDelay·2^(n-2) with ±25 % jitter, within [MinDelay, MaxDelay].
func (t *Tracker) delay() time.Duration {
	if t.crashes <= 1 {
		return 0
	}
	d := t.p.MinDelay
	for i := 2; i < t.crashes && d < t.p.MaxDelay; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.75 + 0.5*t.p.Rand()))
	return min(max(d, t.p.MinDelay), t.p.MaxDelay)
}

func keepSince(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(since) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}

func countSince(ts []time.Time, since time.Time) int {
	n := 0
	for _, t := range ts {
		if !t.Before(since) {
			n++
		}
	}
	return n
}
