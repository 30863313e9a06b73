package json5

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits that keep a corrupt or hostile file from exhausting openclawd: the
// depth bound caps the parser's recursion (and so its stack), and no sane
// config file comes near the size bound.
const (
	MaxDepth = 200      // deepest allowed nesting of objects and arrays
	MaxSize  = 16 << 20 // largest accepted input, in bytes
)

// ErrTooLarge is returned (wrapped) by Parse for input over MaxSize.
var ErrTooLarge = errors.New("json5: input exceeds the 16 MiB size limit")

// SyntaxError reports malformed input and where it is.
type SyntaxError struct {
	Line, Col int // 1-based; Col counts characters, not bytes
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// Parse parses a JSON5 document holding exactly one value. Errors are
// *SyntaxError, or wrap ErrTooLarge.
func Parse(data []byte) (*Value, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(data))
	}
	p := &parser{data: data}
	// Validating up front lets the rest of the parser copy bytes into strings
	// knowing they are well-formed UTF-8.
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return nil, p.errorf(off, "invalid UTF-8")
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.pos < len(data) {
		return nil, p.unexpected("end of input")
	}
	return v, nil
}

type parser struct {
	data  []byte
	pos   int // byte offset of the next unread character
	depth int // objects and arrays currently open
}

// errorf builds a SyntaxError at byte offset off. Line and column are worked
// out only here, keeping the hot path free of bookkeeping.
func (p *parser) errorf(off int, format string, args ...any) error {
	line, col := 1, 1
	for _, r := range string(p.data[:off]) {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the character at the current position, and what would
// have been accepted there if want is not empty.
func (p *parser) unexpected(want string) error {
	r, _ := p.peek()
	what := "end of input"
	if r >= 0 {
		what = fmt.Sprintf("%q", r)
	}
	if want != "" {
		return p.errorf(p.pos, "unexpected %s, expected %s", what, want)
	}
	return p.errorf(p.pos, "unexpected %s", what)
}

// peek returns the character at the current position and its size in bytes,
// or -1 at end of input.
func (p *parser) peek() (rune, int) {
	if p.pos >= len(p.data) {
		return -1, 0
	}
	if c := p.data[p.pos]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(p.data[p.pos:])
}

// at reports whether the current byte is c.
func (p *parser) at(c byte) bool { return p.pos < len(p.data) && p.data[p.pos] == c }

// value parses one value; leading space is already skipped.
func (p *parser) value() (*Value, error) {
	switch r, _ := p.peek(); {
	case r == '{':
		return p.object()
	case r == '[':
		return p.array()
	case r == '"' || r == '\'':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return NewString(s), nil
	case r == 't':
		return p.word("true", NewBool(true))
	case r == 'f':
		return p.word("false", NewBool(false))
	case r == 'n':
		return p.word("null", NewNull())
	case r == '+' || r == '-' || r == '.' || r == 'I' || r == 'N' || (r >= '0' && r <= '9'):
		return p.number()
	}
	return nil, p.unexpected("")
}

// word consumes the keyword w and returns v.
func (p *parser) word(w string, v *Value) (*Value, error) {
	for i := range len(w) {
		if !p.at(w[i]) {
			return nil, p.unexpected("")
		}
		p.pos++
	}
	return v, nil
}

// enter opens an object or array, enforcing MaxDepth.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf(p.pos, "nesting deeper than %d levels", MaxDepth)
	}
	p.pos++ // the bracket
	return p.skipSpace()
}

func (p *parser) object() (*Value, error) {
	defer func() { p.depth-- }()
	if err := p.enter(); err != nil {
		return nil, err
	}
	obj := NewObject()
	for !p.at('}') { // only true initially or after a comma: {} and {a:1,}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if !p.at(':') {
			return nil, p.unexpected("':' after object key")
		}
		p.pos++
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		val, err := p.value()
		if err != nil {
			return nil, err
		}
		obj.put(key, val) // a duplicate key replaces in place, as in JSON.parse
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.at('}') {
			break
		}
		if !p.at(',') {
			return nil, p.unexpected("',' or '}'")
		}
		p.pos++
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
	}
	p.pos++
	return obj, nil
}

func (p *parser) array() (*Value, error) {
	defer func() { p.depth-- }()
	if err := p.enter(); err != nil {
		return nil, err
	}
	arr := &Value{kind: Array}
	for !p.at(']') { // as in object: [] and [1,]
		val, err := p.value()
		if err != nil {
			return nil, err
		}
		arr.elems = append(arr.elems, val)
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.at(']') {
			break
		}
		if !p.at(',') {
			return nil, p.unexpected("',' or ']'")
		}
		p.pos++
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
	}
	p.pos++
	return arr, nil
}

// key parses an object key: a quoted string or an ECMAScript identifier name.
func (p *parser) key() (string, error) {
	switch r, _ := p.peek(); {
	case r == '"' || r == '\'':
		return p.str()
	case r == '\\' || isIDStart(r):
		return p.ident()
	}
	return "", p.unexpected("object key")
}
