package logpipe

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

const esc = 0x1b

// Clean returns the printable text of one raw line, as the Pipe cleans
// every line (see cleanLine).
func Clean(line string) string { return string(cleanLine(nil, []byte(line))) }

// cleanLine appends to dst the printable text of one raw line: ANSI escape
// sequences (CSI, OSC and the other ESC forms) and control characters other
// than tab are removed, invalid UTF-8 becomes U+FFFD, and trailing white
// space (including the \r of CRLF output) is trimmed. The gateway colours
// every line even into a pipe, so this runs on everything it writes.
func cleanLine(dst, s []byte) []byte {
	start := len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == esc:
			i = skipEscape(s, i)
			continue
		case c < utf8.RuneSelf:
			if c == '\t' || (c >= 0x20 && c != 0x7f) {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		case r == 0x9b: // C1 CSI: same body as ESC [
			i = skipCSI(s, i+size)
			continue
		case r == 0x90 || r == 0x9d || r == 0x98 || r == 0x9e || r == 0x9f: // C1 DCS, OSC, SOS, PM, APC
			i = skipString(s, i+size)
			continue
		case r >= 0x80 && r < 0xa0: // other C1 controls
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	for len(dst) > start && (dst[len(dst)-1] == ' ' || dst[len(dst)-1] == '\t') {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// skipEscape returns the index just past the escape sequence starting at
// s[i] == ESC. Unknown forms lose only the ESC so no text is swallowed.
func skipEscape(s []byte, i int) int {
	if i+1 >= len(s) {
		return len(s)
	}
	switch c := s[i+1]; {
	case c == '[':
		return skipCSI(s, i+2)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipString(s, i+2)
	case c >= 0x20 && c <= 0x2f: // nF: intermediates then one final byte
		j := i + 1
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
			j++
		}
		if j < len(s) && s[j] >= 0x30 && s[j] <= 0x7e {
			j++
		}
		return j
	case c >= 0x30 && c <= 0x7e: // two-byte forms such as ESC 7, ESC c
		return i + 2
	default:
		return i + 1
	}
}

// skipCSI skips parameter and intermediate bytes and the final byte of a
// control sequence whose body starts at s[i].
func skipCSI(s []byte, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipString skips an OSC/DCS-style string up to and including its BEL or
// ST (ESC \) terminator; an unterminated string runs to the end of the line,
// as a terminal would treat it.
func skipString(s []byte, i int) int {
	for ; i < len(s); i++ {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == esc && i+1 < len(s) && s[i+1] == '\\':
			return i + 2
		case s[i] == 0xc2 && i+1 < len(s) && s[i+1] == 0x9c: // C1 ST in UTF-8
			return i + 2
		}
	}
	return i
}

// truncate cuts s to at most max bytes on a rune boundary and reports how
// many bytes were cut.
func truncate(s []byte, max int) ([]byte, int) {
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
