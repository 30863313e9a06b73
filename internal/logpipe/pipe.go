package logpipe

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Pipe turns a child's output stream into bounded slog records. It is an
// io.WriteCloser: bytes written are split into lines, and a partial trailing
// line is held until its newline or Close. All methods are goroutine-safe.
type Pipe struct {
	o Options

	mu      sync.Mutex
	partial []byte // raw bytes of the unfinished line, at most rawCap
	cut     int    // bytes of the unfinished line dropped past rawCap
	rawCap  int
	scratch []byte

	tail     []string // ring of the last KeepTail cleaned lines
	tailNext int
	tailLen  int

	win         []*entry // recent distinct patterns, most recent first
	lim         bucket
	lastFlush   time.Time
	evictBudget int    // eviction summaries still allowed this period
	dropped     uint64 // lines dropped by the rate limit since the last flush
	overflow    uint64 // repeats whose summary was over budget since the last flush

	stats  Stats
	closed bool
}

// New returns a Pipe writing to o.Logger. It panics if o.Logger is nil.
func New(o Options) *Pipe {
	o = o.withDefaults()
	now := o.Now()
	p := &Pipe{
		o: o,
		// ANSI codes inflate raw lines; twice the cleaned limit leaves room for
		// them while bounding memory when a child never writes a newline.
		rawCap:      2 * o.MaxLineBytes,
		lastFlush:   now,
		evictBudget: max(o.Window, 0),
		lim:         newBucket(o.MaxLinesPerMinute, o.Burst, now),
	}
	if o.KeepTail > 0 {
		p.tail = make([]string, o.KeepTail)
	}
	return p
}

// Write splits b into lines and processes each complete one. It never fails
// because of the destination: the writer is usually io.Copy from a child's
// pipe, and an error would stop the copy and block the child.
func (p *Pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, fmt.Errorf("logpipe: write: %w", os.ErrClosed)
	}
	n := len(b)
	p.maybeFlush(p.o.Now())
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.hold(b)
			break
		}
		p.hold(b[:i])
		p.endLine()
		b = b[i+1:]
	}
	return n, nil
}

// Close processes a held partial line and writes pending summaries. Later
// Writes fail; Close itself is idempotent.
func (p *Pipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if len(p.partial) > 0 || p.cut > 0 {
		p.endLine()
	}
	p.flush(p.o.Now())
	p.closed = true
	return nil
}

// Flush writes pending repeat and rate-limit summaries now.
func (p *Pipe) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush(p.o.Now())
}

// Tail returns the last KeepTail lines as received (cleaned, including those
// collapsed or rate-limited), oldest first.
func (p *Pipe) Tail() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, p.tailLen)
	for k := p.tailLen; k > 0; k-- {
		out = append(out, p.tail[(p.tailNext-k+len(p.tail))%len(p.tail)])
	}
	return out
}

// Stats returns a snapshot of the counters.
func (p *Pipe) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// hold appends raw bytes to the unfinished line, counting what exceeds rawCap.
func (p *Pipe) hold(b []byte) {
	room := p.rawCap - len(p.partial)
	if len(b) > room {
		p.cut += len(b) - room
		b = b[:room]
	}
	p.partial = append(p.partial, b...)
}

// endLine cleans the held line and hands it on.
func (p *Pipe) endLine() {
	raw, cut := p.partial, p.cut
	p.partial, p.cut = p.partial[:0], 0

	line := cleanLine(p.scratch[:0], raw)
	p.scratch = line
	if len(line) == 0 {
		return
	}
	// Redact the whole line, then truncate: truncating first could keep the
	// front of a secret whose end it cut, where no whole secret is left to
	// find (the token was once logged with 54 of its 64 characters).
	text := p.redact(string(line), cut > 0)
	text, n := truncate(text, p.o.MaxLineBytes)
	cut += n
	if cut > 0 {
		p.stats.Truncated++
		// The count mixes raw and cleaned bytes when both limits hit; it is
		// a hint of scale, not an exact figure.
		text += " …[" + fmtCount(uint64(cut)) + " bytes cut]"
	}
	p.stats.Lines++
	if p.o.OnLine != nil {
		p.o.OnLine(text)
	}
	if len(p.tail) > 0 {
		p.tail[p.tailNext] = text
		p.tailNext = (p.tailNext + 1) % len(p.tail)
		p.tailLen = min(p.tailLen+1, len(p.tail))
	}
	p.process(text, p.o.Now())
}

// redact masks secrets in a whole cleaned line. rawCut says hold dropped
// the line's end unseen: a secret may straddle that cut, so a trailing
// fragment that starts one is masked too.
func (p *Pipe) redact(text string, rawCut bool) string {
	if rawCut {
		text = p.o.Secrets.RedactCut(text)
	} else {
		text = p.o.Secrets.Redact(text)
	}
	if p.o.Redact != nil {
		text = p.o.Redact(text)
	}
	return text
}

// emit writes one record stamped with the injected clock, so record times
// agree with the clock that drives collapsing and rate limiting.
func (p *Pipe) emit(now time.Time, level slog.Level, msg string, extra ...slog.Attr) {
	ctx := context.Background()
	h := p.o.Logger.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(now, level, msg, 0)
	r.AddAttrs(p.o.Attrs...)
	r.AddAttrs(extra...)
	if err := h.Handle(ctx, r); err != nil {
		p.stats.Errors++
	}
}
