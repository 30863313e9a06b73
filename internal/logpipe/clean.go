package logpipe

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/openclawd/openclawd/internal/termtext"
)

// Clean returns the printable text of one raw line, as the Pipe cleans
// every line (see cleanLine).
func Clean(line string) string { return string(cleanLine(nil, []byte(line))) }

// cleanLine appends to dst the printable text of one raw line: ANSI escape
// sequences (CSI, OSC and the other ESC forms), control characters other
// than tab and bidi formatting characters are removed, invalid UTF-8
// becomes U+FFFD, and trailing white space (including the \r of CRLF
// output) is trimmed. The gateway colours every line even into a pipe, so
// this runs on everything it writes; `openclawd logs` prints the result.
func cleanLine(dst, s []byte) []byte {
	start := len(dst)
	dst = termtext.AppendLine(dst, s)
	for len(dst) > start && (dst[len(dst)-1] == ' ' || dst[len(dst)-1] == '\t') {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// truncate cuts s to at most max bytes on a rune boundary and reports how
// many bytes were cut.
func truncate[S ~string | ~[]byte](s S, max int) (S, int) {
	if len(s) <= max {
		return s, 0
	}
	k := max
	for k > 0 && !utf8.RuneStart(s[k]) {
		k--
	}
	return s[:k], len(s) - k
}

// fmtCount formats n with thousands separators ("4,812") so counts in
// summaries read at a glance.
func fmtCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// fmtSpan formats how long a summary covers in a short human form: "850ms",
// "60s", "5m", "3h" (time.Duration's "1m0s" is noisier than needed).
func fmtSpan(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", d.Round(time.Second)/time.Second)
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", d.Round(time.Minute)/time.Minute)
	default:
		return fmt.Sprintf("%dh", d.Round(time.Hour)/time.Hour)
	}
}
