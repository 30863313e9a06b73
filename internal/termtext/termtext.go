// Package termtext makes text from untrusted sources (the gateway, the
// network, the service user's files) safe to print on a terminal.
//
// A terminal executes what it is sent: an OSC sequence can retitle the
// window or write a hyperlink, CSI sequences can clear the screen or move
// the cursor to overwrite earlier lines, a bare \r rewinds a line, and bidi
// override characters make text display in a different order than it
// reads. What is left after cleaning displays as what it is.
package termtext

import "unicode/utf8"

const esc = 0x1b

// Clean returns s as one line of plain text for a terminal: escape
// sequences (CSI, OSC, DCS and the other ESC forms, and their C1 forms),
// C0 and C1 control characters and bidi formatting characters are removed;
// tabs, newlines and Unicode line separators become spaces; invalid UTF-8
// becomes U+FFFD.
func Clean(s string) string {
	if isPlain(s) {
		return s
	}
	return string(appendClean(make([]byte, 0, len(s)), []byte(s), false))
}

// AppendLine appends the printable text of one log line to dst: as Clean,
// but tabs are kept (log indentation) and other white-space controls are
// removed rather than turned into spaces, since lines are already split.
func AppendLine(dst, s []byte) []byte { return appendClean(dst, s, true) }

// isPlain reports whether s is printable ASCII, which Clean returns as is.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func appendClean(dst, s []byte, log bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == esc:
			i = skipEscape(s, i)
			continue
		case c < utf8.RuneSelf:
			switch {
			case c >= 0x20 && c != 0x7f:
				dst = append(dst, c)
			case c == '\t' && log:
				dst = append(dst, c)
			case (c == '\t' || c == '\n' || c == '\v' || c == '\f') && !log:
				dst = append(dst, ' ')
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
		case isBidi(r):
		case r == 0x2028 || r == 0x2029: // line and paragraph separators
			if !log {
				dst = append(dst, ' ')
			}
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// isBidi reports the bidi embedding, override and isolate characters
// (U+202A–U+202E, U+2066–U+2069) and the invisible direction marks, which
// can make a line display in a different order than it reads.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 ||
		r == 0x200e || r == 0x200f || r == 0x061c
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
// ST (ESC \) terminator; an unterminated string runs to the end of the
// text, as a terminal would treat it.
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
