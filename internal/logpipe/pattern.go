package logpipe

import "strings"

// pattern returns s with its variable parts replaced by '#', so lines that
// differ only in counters, ids, addresses, timestamps or durations compare
// equal. It decides what counts as "the same line again" for collapsing, so
// it errs towards merging: a summary keeps the last example verbatim.
//
//	"2024-05-01T10:00:00.123Z retry 7 in 250ms id=3f2a…" -> "# retry # in # id=#"
func pattern(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if n := variableLen(s, i); n > 0 {
			b = append(b, '#')
			i += n
			continue
		}
		b = append(b, s[i])
		i++
	}
	return string(b)
}

// variableLen returns the length of the variable token starting at s[i], or 0.
func variableLen(s string, i int) int {
	if i > 0 && isAlnum(s[i-1]) {
		// Inside a word only digit runs vary ("conn42"); matching hex or
		// UUIDs here would eat the tail of ordinary words.
		if isDigit(s[i]) {
			return numberLen(s, i)
		}
		return 0
	}
	if n := uuidLen(s, i); n > 0 {
		return n
	}
	if n := timestampLen(s, i); n > 0 {
		return n
	}
	if n := hexLen(s, i); n > 0 {
		return n
	}
	if isDigit(s[i]) {
		return numberLen(s, i)
	}
	return 0
}

// numberLen matches a number with optional decimal/thousands/dotted parts and
// duration units, so "120ms", "1.5s", "2m30s", "1,234" and "127.0.0.1" are one
// token each.
func numberLen(s string, i int) int {
	j := i
	for {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j+1 < len(s) && (s[j] == '.' || s[j] == ',') && isDigit(s[j+1]) {
			j++
			continue
		}
		if u := unitLen(s, j); u > 0 {
			j += u
			if j < len(s) && isDigit(s[j]) {
				continue
			}
		}
		return j - i
	}
}

var durationUnits = []string{"ns", "us", "µs", "ms", "s", "m", "h", "d"}

func unitLen(s string, j int) int {
	for _, u := range durationUnits {
		if strings.HasPrefix(s[j:], u) && !(j+len(u) < len(s) && isLetter(s[j+len(u)])) {
			return len(u)
		}
	}
	return 0
}

// uuidLen matches 8-4-4-4-12 hex digits ending at a word boundary.
func uuidLen(s string, i int) int {
	const n = 36
	if len(s)-i < n || (i+n < len(s) && isAlnum(s[i+n])) {
		return 0
	}
	for k := range n {
		c := s[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return 0
			}
		} else if !isHex(c) {
			return 0
		}
	}
	return n
}

// timestampLen matches an ISO 8601 date with optional time, fraction and zone.
func timestampLen(s string, i int) int {
	if !digitsAt(s, i, 4) || !byteAt(s, i+4, '-') || !digitsAt(s, i+5, 2) ||
		!byteAt(s, i+7, '-') || !digitsAt(s, i+8, 2) {
		return 0
	}
	j := i + 10
	if !(byteAt(s, j, 'T') || byteAt(s, j, ' ')) || !digitsAt(s, j+1, 2) ||
		!byteAt(s, j+3, ':') || !digitsAt(s, j+4, 2) {
		return j - i
	}
	j += 6
	if byteAt(s, j, ':') && digitsAt(s, j+1, 2) {
		j += 3
		if (byteAt(s, j, '.') || byteAt(s, j, ',')) && digitsAt(s, j+1, 1) {
			for j++; j < len(s) && isDigit(s[j]); j++ {
			}
		}
	}
	switch {
	case byteAt(s, j, 'Z'):
		j++
	case (byteAt(s, j, '+') || byteAt(s, j, '-')) && digitsAt(s, j+1, 2):
		j += 3
		if byteAt(s, j, ':') && digitsAt(s, j+1, 2) {
			j += 3
		} else if digitsAt(s, j, 2) {
			j += 2
		}
	}
	return j - i
}

// hexLen matches "0x…" or a whole word of 8+ hex digits (ids, hashes).
func hexLen(s string, i int) int {
	j := i
	if strings.HasPrefix(s[i:], "0x") || strings.HasPrefix(s[i:], "0X") {
		j += 2
	}
	k := j
	for k < len(s) && isHex(s[k]) {
		k++
	}
	if k < len(s) && isAlnum(s[k]) {
		return 0
	}
	if (j > i && k > j) || k-i >= 8 {
		return k - i
	}
	return 0
}

func digitsAt(s string, i, n int) bool {
	if i < 0 || i+n > len(s) {
		return false
	}
	for k := i; k < i+n; k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return true
}

func byteAt(s string, i int, c byte) bool { return i < len(s) && s[i] == c }
func isDigit(c byte) bool                 { return c >= '0' && c <= '9' }
func isLetter(c byte) bool                { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool                 { return isDigit(c) || isLetter(c) }
func isHex(c byte) bool                   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
