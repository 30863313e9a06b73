package fetch

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

const (
	logEvery  = 5 * time.Second        // non-tty: journald lines, not a flood
	drawEvery = 100 * time.Millisecond // tty with unknown total: redraw rate
	barWidth  = 30
)

// NewProgress returns a Progress that draws a one-line bar with \r on w when
// tty is true, else logs plain lines "downloading node: 35% of 29.8 MB" at
// most every 5 s and at 100% via log (slog.Default if nil). It is not safe
// for concurrent use; Download calls it from one goroutine.
func NewProgress(w io.Writer, tty bool, label string, log *slog.Logger) Progress {
	return newProgress(w, tty, label, log, time.Now)
}

func newProgress(w io.Writer, tty bool, label string, log *slog.Logger, now func() time.Time) Progress {
	if log == nil {
		log = slog.Default()
	}
	var (
		last     time.Time
		lastPct  = -1
		started  bool
		finished bool
	)
	return func(done, total int64) {
		if finished {
			return
		}
		complete := total >= 0 && done >= total
		pct := -1
		switch {
		case total > 0:
			pct = int(min(done*100/total, 100))
		case total == 0:
			pct = 100
		}
		t := now()
		if tty {
			// Redraw only on a visible change: a call per 32 KB read would
			// otherwise flood a slow terminal.
			if started && !complete && (pct >= 0 && pct == lastPct || pct < 0 && t.Sub(last) < drawEvery) {
				return
			}
			line := fmt.Sprintf("%s: %s", label, mb(done))
			if pct >= 0 {
				n := pct * barWidth / 100
				line = fmt.Sprintf("%s: [%s%s] %3d%% of %s", label,
					strings.Repeat("=", n), strings.Repeat(" ", barWidth-n), pct, mb(total))
			}
			fmt.Fprintf(w, "\r%s\x1b[K", line) // \x1b[K clears what a longer line left
			if complete {
				fmt.Fprintln(w)
			}
		} else {
			if started && !complete && t.Sub(last) < logEvery {
				return
			}
			if pct >= 0 {
				log.Info(fmt.Sprintf("%s: %d%% of %s", label, pct, mb(total)))
			} else {
				log.Info(fmt.Sprintf("%s: %s", label, mb(done)))
			}
		}
		started, finished, last, lastPct = true, complete, t, pct
	}
}

// mb formats n in decimal megabytes, as browsers and curl's summary do.
func mb(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
