package json5

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// skipSpace skips whitespace and comments.
func (p *parser) skipSpace() error {
	for {
		r, n := p.peek()
		switch {
		case isSpace(r):
			p.pos += n
		case r == '/' && p.pos+1 < len(p.data) && p.data[p.pos+1] == '/':
			for r, n := p.peek(); r >= 0 && !isLineTerm(r); r, n = p.peek() {
				p.pos += n
			}
		case r == '/' && p.pos+1 < len(p.data) && p.data[p.pos+1] == '*':
			end := bytes.Index(p.data[p.pos+2:], []byte("*/"))
			if end < 0 {
				return p.errorf(p.pos, "unterminated comment")
			}
			p.pos += 2 + end + 2
		default:
			return nil
		}
	}
}

// str parses a single- or double-quoted string.
func (p *parser) str() (string, error) {
	start := p.pos
	quote := p.data[p.pos]
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf(start, "unterminated string")
		}
		switch c := p.data[p.pos]; c {
		case quote:
			p.pos++
			return b.String(), nil
		case '\n', '\r': // JSON5 allows U+2028/U+2029 in strings, but not these
			return "", p.errorf(start, "unterminated string")
		case '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.errorf(start, "unterminated string")
			}
			if err := p.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c) // input is valid UTF-8, so bytes can be copied as-is
			p.pos++
		}
	}
}

// escape decodes the escape sequence at the current position (a backslash
// followed by at least one character) into b.
func (p *parser) escape(b *strings.Builder) error {
	start := p.pos
	p.pos++
	r, n := p.peek()
	p.pos += n
	switch r {
	case '\n', '\u2028', '\u2029': // line continuation: contributes nothing
	case '\r':
		if p.at('\n') {
			p.pos++
		}
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'v':
		b.WriteByte('\v')
	case '0':
		if p.pos < len(p.data) && isDigit(p.data[p.pos]) {
			return p.errorf(start, `invalid escape sequence "\0%c"`, p.data[p.pos])
		}
		b.WriteByte(0)
	case '1', '2', '3', '4', '5', '6', '7', '8', '9': // legacy octal, not JSON5
		return p.errorf(start, `invalid escape sequence "\%c"`, r)
	case 'x':
		h, ok := p.hex(2)
		if !ok {
			return p.errorf(start, `invalid escape sequence: "\x" needs 2 hex digits`)
		}
		b.WriteRune(rune(h))
	case 'u':
		u, ok := p.uescape()
		if !ok {
			return p.errorf(start, `invalid escape sequence: "\u" needs 4 hex digits`)
		}
		b.WriteRune(u)
	default: // any other character stands for itself: '\a' is 'a'
		b.WriteRune(r)
	}
	return nil
}

// hex consumes exactly n hex digits.
func (p *parser) hex(n int) (uint64, bool) {
	if p.pos+n > len(p.data) {
		return 0, false
	}
	var h uint64
	for _, c := range p.data[p.pos : p.pos+n] {
		if !isHexDigit(c) {
			return 0, false
		}
		d := uint64(c|0x20) - 'a' + 10
		if isDigit(c) {
			d = uint64(c - '0')
		}
		h = h<<4 | d
	}
	p.pos += n
	return h, true
}

// uescape decodes the XXXX of \uXXXX, joining a UTF-16 surrogate pair written
// as two escapes. Go strings cannot hold an unpaired surrogate, so one becomes
// U+FFFD, as with encoding/json.
func (p *parser) uescape() (rune, bool) {
	h, ok := p.hex(4)
	if !ok {
		return 0, false
	}
	r := rune(h)
	if r >= 0xD800 && r < 0xDC00 && p.at('\\') && p.pos+1 < len(p.data) && p.data[p.pos+1] == 'u' {
		save := p.pos
		p.pos += 2
		if lo, ok := p.hex(4); ok {
			if c := utf16.DecodeRune(r, rune(lo)); c != utf8.RuneError {
				return c, true
			}
		}
		p.pos = save // not a pair: the second escape is decoded on its own
	}
	if utf16.IsSurrogate(r) {
		return utf8.RuneError, true
	}
	return r, true
}

// ident parses an unquoted key, an ECMAScript IdentifierName; reserved words
// are allowed, and \uXXXX escapes may spell identifier characters.
func (p *parser) ident() (string, error) {
	var b strings.Builder
	for {
		r, n := p.peek()
		if r == '\\' {
			start := p.pos
			if p.pos+1 >= len(p.data) || p.data[p.pos+1] != 'u' {
				return "", p.errorf(start, `invalid escape in identifier: only "\u" is allowed`)
			}
			p.pos += 2
			u, ok := p.uescape()
			if !ok || !(isIDStart(u) || b.Len() > 0 && isIDContinue(u)) {
				return "", p.errorf(start, "invalid identifier escape")
			}
			b.WriteRune(u)
			continue
		}
		if !isIDStart(r) && !(b.Len() > 0 && isIDContinue(r)) {
			return b.String(), nil
		}
		b.WriteRune(r)
		p.pos += n
	}
}

// number parses a JSON5 number and records an equivalent JSON literal, which
// is the original text whenever that already is valid JSON.
func (p *parser) number() (*Value, error) {
	start := p.pos
	neg := p.at('-')
	if neg || p.at('+') {
		p.pos++
	}
	sign := map[bool]int{false: 1, true: -1}[neg]
	switch {
	case p.at('I'):
		_, err := p.word("Infinity", nil)
		return &Value{kind: Number, num: math.Inf(sign)}, err
	case p.at('N'):
		_, err := p.word("NaN", nil)
		return &Value{kind: Number, num: math.NaN()}, err
	case p.at('0') && p.pos+1 < len(p.data) && p.data[p.pos+1]|0x20 == 'x':
		p.pos += 2
		digits := p.run(isHexDigit)
		if digits == "" {
			return nil, p.unexpected("hexadecimal digit")
		}
		return hexNumber(sign, digits), nil
	}
	intPart := p.run(isDigit)
	if len(intPart) > 1 && intPart[0] == '0' {
		return nil, p.errorf(start, "invalid number: leading zero")
	}
	var frac, exp string
	if p.at('.') {
		p.pos++
		frac = p.run(isDigit)
	}
	if intPart == "" && frac == "" {
		return nil, p.unexpected("digit")
	}
	if p.at('e') || p.at('E') {
		e := p.pos
		p.pos++
		if p.at('+') || p.at('-') {
			p.pos++
		}
		if p.run(isDigit) == "" {
			return nil, p.unexpected("digit")
		}
		exp = string(p.data[e:p.pos])
	}
	// JSON wants no '+', and digits on both sides of any '.'.
	lit := intPart
	if lit == "" {
		lit = "0"
	}
	if neg {
		lit = "-" + lit
	}
	if frac != "" {
		lit += "." + frac
	}
	lit += exp
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range is ±Inf or 0, as in JS
		return nil, p.errorf(start, "invalid number")
	}
	return &Value{kind: Number, num: f, lit: lit}, nil
}

// hexNumber converts hex digits exactly to a decimal literal.
func hexNumber(sign int, digits string) *Value {
	digits = strings.TrimLeft(digits, "0")
	if len(digits) > 256 { // ≥ 2^1024: JavaScript reads it as Infinity
		return &Value{kind: Number, num: math.Inf(sign)}
	}
	n, _ := new(big.Int).SetString("0"+digits, 16)
	n.Mul(n, big.NewInt(int64(sign)))
	lit := n.String()
	f, _ := strconv.ParseFloat(lit, 64)
	return &Value{kind: Number, num: f, lit: lit}
}

// run consumes bytes while ok holds and returns them.
func (p *parser) run(ok func(byte) bool) string {
	start := p.pos
	for p.pos < len(p.data) && ok(p.data[p.pos]) {
		p.pos++
	}
	return string(p.data[start:p.pos])
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

func isLineTerm(r rune) bool { return r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' }

func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u2028', '\u2029', '\ufeff':
		return true
	}
	return r >= utf8.RuneSelf && unicode.Is(unicode.Zs, r)
}

func isIDStart(r rune) bool {
	return r == '$' || r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r)
}

func isIDContinue(r rune) bool {
	return isIDStart(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc) ||
		r == '\u200c' || r == '\u200d'
}
