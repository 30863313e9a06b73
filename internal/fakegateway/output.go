package fakegateway

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// ANSI codes as chalk writes them. The real gateway colours stdout even when
// it is a pipe, unless NO_COLOR is set (§11), so log pipes must cope.
const (
	ansiGray  = "\x1b[90m"
	ansiCyan  = "\x1b[36m"
	ansiReset = "\x1b[39m"
)

// output serialises whole lines onto stdout and stderr.
type output struct {
	mu     sync.Mutex // held for each line or batch; exit holds it for good
	stdout io.Writer
	stderr io.Writer
	color  bool
}

func newOutput(stdout, stderr io.Writer, color bool) *output {
	return &output{stdout: stdout, stderr: stderr, color: color}
}

// format renders one log line: timestamp, [subsystem], message.
func (o *output) format(buf *bytes.Buffer, colored bool, sub, msg string) {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	if colored {
		fmt.Fprintf(buf, "%s%s%s %s[%s]%s %s\n", ansiGray, ts, ansiReset, ansiCyan, sub, ansiReset, msg)
		return
	}
	fmt.Fprintf(buf, "%s [%s] %s\n", ts, sub, msg)
}

// info writes an INFO line to stdout.
func (o *output) info(sub, format string, args ...any) {
	var buf bytes.Buffer
	o.format(&buf, o.color, sub, fmt.Sprintf(format, args...))
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.stdout.Write(buf.Bytes())
}

// errorf writes a plain line to stderr, as the real gateway's fatal
// messages appear there (e.g. the config error of mode exit78).
func (o *output) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...) + "\n"
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = io.WriteString(o.stderr, msg)
}

// banner prints about five startup lines, like the real gateway's ~16.
func (g *gateway) banner(lns []net.Listener) {
	g.out.info("gateway", "openclaw %s (fake) starting; pid=%d", Version, os.Getpid())
	g.out.info("gateway", "auth mode: token")
	for _, ln := range lns {
		g.out.info("gateway", "listening on ws://%s", ln.Addr())
	}
	g.out.info("gateway", "drain=315000ms shutdown=325000ms reserve=10000ms exitMargin=5000ms; source=Gateway stop policy=330000ms")
	g.out.info("gateway", "tick interval %dms", g.cfg.tick.Milliseconds())
}

// flood writes rate lines a second for the given time, in batches every
// 10ms, so a 1000/s flood costs 100 writes a second. It stops on hang.
func (g *gateway) flood(rate int, d time.Duration, varied, toStderr bool) {
	w, colored := g.out.stdout, g.out.color
	if toStderr {
		w, colored = g.out.stderr, false
	}
	start := time.Now()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var sent int
	for now := range t.C {
		if g.hung.Load() {
			return
		}
		elapsed := min(now.Sub(start), d)
		due := int(elapsed.Seconds()*float64(rate)) - sent
		var buf bytes.Buffer
		for range due {
			sent++
			sub, msg := floodLine(sent, varied)
			g.out.format(&buf, colored, sub, msg)
		}
		if buf.Len() > 0 {
			g.out.mu.Lock()
			_, _ = w.Write(buf.Bytes())
			g.out.mu.Unlock()
		}
		if elapsed >= d {
			g.rec.event("flood-done pid=%d lines=%d", os.Getpid(), sent)
			return
		}
	}
}

// floodLine returns line n of a flood. "same" is a retry loop of three
// alternating lines whose numbers change (what a log deduplicator must fold);
// "varied" is distinct random text (what it must not).
func floodLine(n int, varied bool) (sub, msg string) {
	if varied {
		words := [...]string{"agent", "session", "compact", "tool", "model", "cache", "queue", "plugin",
			"render", "memory", "channel", "router", "token", "sync", "index", "prune"}
		msg = words[rand.IntN(len(words))]
		for range 3 + rand.IntN(6) {
			msg += " " + words[rand.IntN(len(words))]
		}
		return "agent", msg + " id=" + strconv.FormatUint(rand.Uint64(), 16)
	}
	attempt := (n + 2) / 3
	switch n % 3 {
	case 1:
		return "telegram", fmt.Sprintf("getUpdates failed (attempt %d): fetch failed", attempt)
	case 2:
		return "telegram", fmt.Sprintf("connect ETIMEDOUT 149.154.167.220:443 after %dms", 10000+rand.IntN(50))
	default:
		next := time.Now().Add(time.Duration(500+rand.IntN(500)) * time.Millisecond).UTC().Format(time.RFC3339Nano)
		return "telegram", fmt.Sprintf("retrying in %dms (next attempt at %s)", 500+rand.IntN(500), next)
	}
}
