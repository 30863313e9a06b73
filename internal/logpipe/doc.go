// Package logpipe keeps the supervised gateway's output useful and bounded.
//
// The OpenClaw gateway prints ANSI colour codes on every stdout line even to a
// pipe, logs every WebSocket connect and close at INFO, and in one incident a
// retry loop produced 49,315 log events in an hour. A Pipe sits between the
// child's stdout/stderr and the daemon's slog.Logger and:
//
//   - splits the byte stream into lines, strips ANSI escape sequences,
//     control and bidi characters, masks secrets, and only then cuts
//     over-long lines, so every record is plain text of bounded size with no
//     secret or part of one;
//   - collapses repeats: each line is normalised into a pattern (numbers, hex
//     ids, UUIDs, ISO timestamps and durations become '#'); a line whose
//     pattern is among the last Window distinct patterns seen within
//     FlushEvery is counted instead of logged, and later reported once as
//     "repeated N times in 60s: <last example>". Matching a window of patterns,
//     not just the previous line, catches loops cycling through 2-3 messages;
//   - rate-limits forwarded lines with a token bucket and reports how many
//     lines were dropped once per flush;
//   - keeps the last few cleaned lines (Pipe.Tail) for error reports such as
//     "exit 78: <last stderr lines>".
//
// A Pipe starts no goroutine: pending summaries are written when a Write
// notices FlushEvery has elapsed, or on Flush and Close. A caller that wants
// summaries on time while the child is silent calls Flush from a ticker.
//
// With the defaults, output is bounded per FlushEvery period by Burst plus the
// rate limit (120 lines/min steady), at most Window summaries for patterns that
// leave the window, Window summaries at flush and two notices: a worst case of
// about 140 records a minute whatever the child writes. The retry loop above
// becomes a few records a minute.
//
// RotatingFile caps the disk use of a log file by size-based rotation (path,
// path.1 ... path.<keep>); Tail and Follow read those files back for
// `openclawd logs [-f] [-n N]`.
package logpipe

import (
	"log/slog"
	"time"

	"github.com/openclawd/openclawd/internal/redact"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultMaxLinesPerMinute = 120
	DefaultBurst             = 60
	DefaultMaxLineBytes      = 8192
	DefaultWindow            = 8
	DefaultFlushEvery        = time.Minute
	DefaultKeepTail          = 20
)

// Options configure a Pipe.
type Options struct {
	Logger *slog.Logger // where surviving lines go (required)
	Attrs  []slog.Attr  // added to every record, e.g. slog.String("stream", "stdout")
	Level  slog.Level   // level of forwarded lines (stdout INFO, stderr WARN)

	// MaxLinesPerMinute is the token-bucket rate of forwarded lines:
	// 0 means DefaultMaxLinesPerMinute, <0 unlimited.
	MaxLinesPerMinute int
	Burst             int // token-bucket size; <=0 means DefaultBurst

	// MaxLineBytes bounds a line; longer lines are cut with a note of how
	// much was cut. <=0 means DefaultMaxLineBytes.
	MaxLineBytes int

	// Window is how many recent distinct patterns count as repeats; 0 means
	// DefaultWindow, <0 disables collapsing.
	Window int

	// FlushEvery is how often pending summaries are written and how long a
	// pattern stays "recent"; <=0 means DefaultFlushEvery.
	FlushEvery time.Duration

	// KeepTail is how many recent lines Pipe.Tail returns; 0 means
	// DefaultKeepTail, <0 keeps none.
	KeepTail int

	Now func() time.Time // clock; nil means time.Now

	// Secrets, if set, are masked in each whole cleaned line before it is
	// truncated, counted, kept in the tail or logged: the gateway token,
	// which a gateway may print (a dashboard URL with #token=…), and the
	// env file's API keys. A line longer than twice MaxLineBytes loses its
	// end unseen; a trailing fragment that starts a secret is masked then
	// too (redact.Set.RedactCut), so no part of a secret survives a cut.
	Secrets *redact.Set
	// Redact, if set, also rewrites each cleaned line, after Secrets and
	// before truncation. Prefer Secrets: Redact cannot see a secret cut
	// where the raw line was.
	Redact func(string) string
	// OnLine, if set, sees every cleaned, redacted line before collapsing
	// and rate limiting drop any: how the daemon hears what the gateway
	// says of itself (its crash-loop breaker). It runs on the writer's
	// goroutine and must be quick.
	OnLine func(string)
}

// Stats are a Pipe's counters since New. Every non-empty line is exactly one
// of Forwarded, Collapsed or RateLimited.
type Stats struct {
	Lines       uint64 // non-empty lines received
	Forwarded   uint64 // lines written as their own record
	Collapsed   uint64 // lines counted into a "repeated" summary instead
	RateLimited uint64 // lines dropped by the rate limit
	Truncated   uint64 // lines cut to MaxLineBytes
	Summaries   uint64 // summary and notice records written
	Errors      uint64 // records the handler failed to write
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		// A Pipe without a destination is a programming error in the daemon;
		// failing at construction beats silently discarding the gateway's logs.
		panic("logpipe: Options.Logger is required")
	}
	o.Attrs = append([]slog.Attr(nil), o.Attrs...) // the caller may reuse its slice
	if o.MaxLinesPerMinute == 0 {
		o.MaxLinesPerMinute = DefaultMaxLinesPerMinute
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.KeepTail == 0 {
		o.KeepTail = DefaultKeepTail
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
