package logpipe

import (
	"fmt"
	"log/slog"
	"time"
)

// entry is one recent distinct pattern and its repeats not yet reported.
type entry struct {
	pattern string
	first   time.Time // when the pattern entered the window
	seen    time.Time // last occurrence, suppressed or not
	count   uint64    // suppressed occurrences since the last summary
	example string    // last suppressed line, shown in the summary
}

// process decides the fate of one cleaned line: collapse it into a recent
// pattern, or forward it subject to the rate limit.
func (p *Pipe) process(line string, now time.Time) {
	p.maybeFlush(now)
	if p.o.Window < 0 {
		p.forward(line, now)
		return
	}
	pat := pattern(line)
	for i, e := range p.win {
		if e.pattern != pat {
			continue
		}
		if now.Sub(e.seen) >= p.o.FlushEvery {
			// Not seen lately: show it again rather than hide it forever.
			p.win = append(p.win[:i], p.win[i+1:]...)
			p.summarise(e, now)
			break
		}
		e.count++
		e.seen = now
		e.example = line
		copy(p.win[1:i+1], p.win[:i]) // move to front
		p.win[0] = e
		p.stats.Collapsed++
		return
	}
	p.win = append(p.win, nil)
	copy(p.win[1:], p.win)
	p.win[0] = &entry{pattern: pat, first: now, seen: now}
	if len(p.win) > p.o.Window {
		old := p.win[len(p.win)-1]
		p.win = p.win[:len(p.win)-1]
		p.summarise(old, now)
	}
	p.forward(line, now)
}

// summarise reports an entry leaving the window, within the per-period
// budget; repeats beyond it are counted into the overflow notice so that
// output stays bounded even for input that churns patterns.
func (p *Pipe) summarise(e *entry, now time.Time) {
	if e.count == 0 {
		return
	}
	if p.evictBudget <= 0 {
		p.overflow += e.count
		return
	}
	p.evictBudget--
	p.writeSummary(e, now)
}

func (p *Pipe) writeSummary(e *entry, now time.Time) {
	times := "times"
	if e.count == 1 {
		times = "time"
	}
	// The span is the period the count covers: since the last flush, or
	// since the pattern appeared if that was later.
	since := p.lastFlush
	if e.first.After(since) {
		since = e.first
	}
	msg := fmt.Sprintf("repeated %s %s in %s: %s", fmtCount(e.count), times, fmtSpan(now.Sub(since)), e.example)
	p.stats.Summaries++
	p.emit(now, p.o.Level, msg, slog.Uint64("repeated", e.count))
	e.count, e.example = 0, ""
}

func (p *Pipe) forward(line string, now time.Time) {
	if !p.lim.allow(now) {
		p.stats.RateLimited++
		p.dropped++
		return
	}
	p.stats.Forwarded++
	p.emit(now, p.o.Level, line)
}

func (p *Pipe) maybeFlush(now time.Time) {
	if now.Sub(p.lastFlush) >= p.o.FlushEvery {
		p.flush(now)
	}
}

// flush writes one summary per pattern with pending repeats (at most Window,
// oldest first) and the notices for dropped lines, then starts a new period.
func (p *Pipe) flush(now time.Time) {
	for i := len(p.win) - 1; i >= 0; i-- {
		if p.win[i].count > 0 {
			p.writeSummary(p.win[i], now)
		}
	}
	// Dropped lines are less severe than errors but worth noticing.
	level := max(p.o.Level, slog.LevelWarn)
	if p.dropped > 0 {
		p.stats.Summaries++
		p.emit(now, level, fmt.Sprintf("suppressed %s lines (rate limit %d/min)",
			fmtCount(p.dropped), p.o.MaxLinesPerMinute), slog.Uint64("suppressed", p.dropped))
		p.dropped = 0
	}
	if p.overflow > 0 {
		p.stats.Summaries++
		p.emit(now, level, fmt.Sprintf("suppressed %s repeated lines (summary limit %d per %s)",
			fmtCount(p.overflow), p.o.Window, fmtSpan(p.o.FlushEvery)), slog.Uint64("suppressed", p.overflow))
		p.overflow = 0
	}
	p.lastFlush = now
	p.evictBudget = max(p.o.Window, 0)
}

// bucket is a token bucket driven by the injected clock.
type bucket struct {
	perSec float64 // <= 0: unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(perMinute, burst int, now time.Time) bucket {
	return bucket{perSec: float64(perMinute) / 60, burst: float64(burst), tokens: float64(burst), last: now}
}

func (b *bucket) allow(now time.Time) bool {
	if b.perSec <= 0 {
		return true
	}
	// Only a forward step refills, so a clock stepping back then forward
	// again cannot mint extra tokens.
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt.Seconds()*b.perSec)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
