package json5

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MarshalIndent encodes v as standard JSON the way the gateway writes its
// config (JSON.stringify with 2-space indent): keys in order, a trailing
// newline, and each number's original literal when it is valid JSON. JSON5
// comments are not preserved. It fails if v holds Infinity or NaN, which JSON
// cannot express; JSON.stringify would quietly write null instead.
func (v *Value) MarshalIndent() ([]byte, error) {
	buf, err := appendValue(nil, v, 0, nil)
	if err != nil {
		return nil, err
	}
	return append(buf, '\n'), nil
}

// appendValue appends v at indentation level depth; path names v in errors.
func appendValue(buf []byte, v *Value, depth int, path []string) ([]byte, error) {
	var err error
	switch v.Kind() {
	case Null:
		buf = append(buf, "null"...)
	case Bool:
		buf = strconv.AppendBool(buf, v.b)
	case Number:
		if v.lit == "" {
			name := "NaN"
			if math.IsInf(v.num, 1) {
				name = "Infinity"
			} else if math.IsInf(v.num, -1) {
				name = "-Infinity"
			}
			return nil, fmt.Errorf("json5: cannot write %s at %s: JSON has no such number", name, pathString(path))
		}
		buf = append(buf, v.lit...)
	case String:
		buf = appendQuoted(buf, v.str)
	case Array:
		if len(v.elems) == 0 {
			return append(buf, "[]"...), nil
		}
		buf = append(buf, '[')
		for i, e := range v.elems {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendIndent(buf, depth+1)
			if buf, err = appendValue(buf, e, depth+1, append(path, "["+strconv.Itoa(i)+"]")); err != nil {
				return nil, err
			}
		}
		buf = append(appendIndent(buf, depth), ']')
	case Object:
		if len(v.keys) == 0 {
			return append(buf, "{}"...), nil
		}
		buf = append(buf, '{')
		for i, k := range v.keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(appendQuoted(appendIndent(buf, depth+1), k), ": "...)
			if buf, err = appendValue(buf, v.vals[i], depth+1, append(path, k)); err != nil {
				return nil, err
			}
		}
		buf = append(appendIndent(buf, depth), '}')
	}
	return buf, nil
}

func appendIndent(buf []byte, depth int) []byte {
	buf = append(buf, '\n')
	for range depth {
		buf = append(buf, "  "...)
	}
	return buf
}

// pathString renders a path for error messages, such as gateway.ports[1].
func pathString(path []string) string {
	if len(path) == 0 {
		return "top level"
	}
	var b strings.Builder
	for i, p := range path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// appendQuoted appends s as a JSON string, escaping like JSON.stringify so
// the gateway's own rewrite of the file changes nothing. Invalid UTF-8 (only
// possible in strings built by NewString) becomes U+FFFD.
func appendQuoted(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				buf = append(buf, `\ufffd`...)
			} else {
				buf = append(buf, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\b':
			buf = append(buf, `\b`...)
		case '\f':
			buf = append(buf, `\f`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\r':
			buf = append(buf, `\r`...)
		case '\t':
			buf = append(buf, `\t`...)
		default:
			if c < 0x20 {
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				buf = append(buf, c)
			}
		}
		i++
	}
	return append(buf, '"')
}

// Clone returns a deep copy of v; a nil v yields null.
func (v *Value) Clone() *Value {
	if v == nil {
		return NewNull()
	}
	c := &Value{kind: v.kind, b: v.b, num: v.num, lit: v.lit, str: v.str}
	for _, e := range v.elems {
		c.elems = append(c.elems, e.Clone())
	}
	for i, k := range v.keys {
		c.put(k, v.vals[i].Clone())
	}
	return c
}

// Equal reports deep equality, ignoring object key order. Numbers compare by
// value (1e3 equals 1000), and NaN equals NaN so that Equal is reflexive.
func Equal(a, b *Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case Bool:
		return a.b == b.b
	case Number:
		return a.num == b.num || math.IsNaN(a.num) && math.IsNaN(b.num)
	case String:
		return a.str == b.str
	case Array:
		if len(a.elems) != len(b.elems) {
			return false
		}
		for i := range a.elems {
			if !Equal(a.elems[i], b.elems[i]) {
				return false
			}
		}
	case Object:
		if len(a.keys) != len(b.keys) {
			return false
		}
		for i, k := range a.keys {
			if bv, ok := b.Get(k); !ok || !Equal(a.vals[i], bv) {
				return false
			}
		}
	}
	return true
}
