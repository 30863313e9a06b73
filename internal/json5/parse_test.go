package json5

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// featureCases pairs JSON5 input with the equivalent plain JSON, which
// encoding/json decodes independently as the oracle. FuzzParse seeds from it.
var featureCases = []struct{ name, in, want string }{
	{"plain JSON", `{"a": [1, "x", true, false, null]}`, `{"a": [1, "x", true, false, null]}`},
	{"line comment", "// head\n{a: 1 // tail\n}", `{"a": 1}`},
	{"block comment", "/* a\n * b */ [1, /* in */ 2]/**/", `[1, 2]`},
	{"comment ended by U+2028", "// c\u2028[]", `[]`},
	{"trailing comma object", `{a: 1, b: {c: 2,},}`, `{"a": 1, "b": {"c": 2}}`},
	{"trailing comma array", `[1, [2,],]`, `[1, [2]]`},
	{"empty containers", `{a: {}, b: [], c: [{}]}`, `{"a": {}, "b": [], "c": [{}]}`},
	{"identifier keys", `{$a: 1, _b: 2, c3: 3, null: 4, true: 5}`, `{"$a": 1, "_b": 2, "c3": 3, "null": 4, "true": 5}`},
	{"unicode identifier", `{ünïcödé: 1, Ⅻx: 2, a‿b: 3}`, `{"ünïcödé": 1, "Ⅻx": 2, "a‿b": 3}`},
	{"escaped identifier", `{\u0061b\u0063: 1}`, `{"abc": 1}`},
	{"single-quoted string", `'say "hi"'`, `"say \"hi\""`},
	{"double quote holds single", `"it's"`, `"it's"`},
	{"quoted keys", `{'a b': 1, "c": 2}`, `{"a b": 1, "c": 2}`},
	{"simple escapes", `'\b\f\n\r\t\v\0\'\"\\\/'`, `"\b\f\n\r\t\u000b\u0000'\"\\/"`},
	{"identity escapes", `'\a\c\q'`, `"acq"`},
	{"hex escape", `'\x41\xe9'`, `"Aé"`},
	{"unicode escape", `'\u00E9\u20ac'`, `"é€"`},
	{"surrogate pair", `'\uD83D\uDE00'`, `"😀"`},
	{"lone surrogate", `'\uD800x\uDC00'`, `"\ufffdx\ufffd"`},
	{"line continuation LF", "'a\\\nb'", `"ab"`},
	{"line continuation CRLF", "'a\\\r\nb'", `"ab"`},
	{"line continuation CR", "'a\\\rb'", `"ab"`},
	{"raw U+2028 in string", "'a\u2028b'", `"a\u2028b"`},
	{"raw tab in string", "'a\tb'", `"a\tb"`},
	{"hex numbers", `[0xFF, 0X1f, -0x10, +0xa, 0x0]`, `[255, 31, -16, 10, 0]`},
	{"big hex", `0x10000000000000001`, `18446744073709551617`},
	{"decimal points", `[.5, 5., -.5, +.5e1, 5.e2]`, `[0.5, 5, -0.5, 5, 500]`},
	{"plus sign", `[+1, +1.5, +0]`, `[1, 1.5, 0]`},
	{"exponents", `[1e3, 1E+3, 2.5e-3, -0]`, `[1000, 1000, 0.0025, 0]`},
	{"odd whitespace", "\ufeff\u00a0{\va:\f1\u2029,\u3000}\u2028", `{"a": 1}`},
	{"top-level scalars", `  'x'  `, `"x"`},
	{"duplicate key last wins", `{a: 1, b: 2, a: 3}`, `{"b": 2, "a": 3}`},
}

func TestParseFeatures(t *testing.T) {
	for _, tc := range featureCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var want any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatalf("bad oracle: %v", err)
			}
			if !Equal(got, fromAny(want)) {
				out, _ := got.MarshalIndent()
				t.Errorf("got %s, want %s", out, tc.want)
			}
		})
	}
}

// fromAny converts encoding/json's decoding into a Value.
func fromAny(x any) *Value {
	switch x := x.(type) {
	case bool:
		return NewBool(x)
	case float64:
		return NewNumber(x)
	case string:
		return NewString(x)
	case []any:
		v := NewArray()
		for _, e := range x {
			v.elems = append(v.elems, fromAny(e))
		}
		return v
	case map[string]any:
		v := NewObject()
		for k, e := range x {
			v.Set([]string{k}, fromAny(e))
		}
		return v
	}
	return NewNull()
}

func TestParseNonFinite(t *testing.T) {
	v, err := Parse([]byte(`[Infinity, +Infinity, -Infinity, NaN, -NaN, 1e999]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.NaN(), math.NaN(), math.Inf(1)}
	for i, e := range v.Elems() {
		f, ok := e.Number()
		if !ok || !(f == want[i] || math.IsNaN(f) && math.IsNaN(want[i])) {
			t.Errorf("elem %d = %v, want %v", i, f, want[i])
		}
	}
}

// errorCases are malformed inputs and where the error must point.
var errorCases = []struct {
	name      string
	in        string
	line, col int
	msg       string
}{
	{"empty", "", 1, 1, "unexpected end of input"},
	{"only comment", "// x\n", 2, 1, "unexpected end of input"},
	{"unterminated string", `{a: "abc`, 1, 5, "unterminated string"},
	{"newline in string", "{\n  a: 'abc\n}", 2, 6, "unterminated string"},
	{"unterminated escape", `'abc\`, 1, 1, "unterminated string"},
	{"missing colon", "{\n  a 1\n}", 2, 5, `unexpected '1', expected ':' after object key`},
	{"value missing", "{\n  a: 1,\n  bb: }", 3, 7, "unexpected '}'"},
	{"trailing garbage", "{}\n}", 2, 1, "unexpected '}', expected end of input"},
	{"two values", `1 2`, 1, 3, "unexpected '2'"},
	{"octal escape", `"a\1"`, 1, 3, `invalid escape sequence "\1"`},
	{"zero then digit escape", `"\01"`, 1, 2, "invalid escape sequence"},
	{"bad hex escape", `'\x4g'`, 1, 2, `"\x" needs 2 hex digits`},
	{"short unicode escape", `'\u12'`, 1, 2, `"\u" needs 4 hex digits`},
	{"bad identifier escape", `{a\x41: 1}`, 1, 3, "invalid escape in identifier"},
	{"identifier escape to digit", `{\u0031: 1}`, 1, 2, "invalid identifier escape"},
	{"key starts with digit", `{1a: 1}`, 1, 2, "expected object key"},
	{"double comma", `[1,,2]`, 1, 4, "unexpected ','"},
	{"empty with comma", `{,}`, 1, 2, "unexpected ','"},
	{"missing comma", `[1 2]`, 1, 4, `unexpected '2', expected ',' or ']'`},
	{"missing comma object", `{a: 1 b: 2}`, 1, 7, `expected ',' or '}'`},
	{"unterminated object", "{a: 1,\n", 2, 1, "unexpected end of input"},
	{"unterminated comment", "[1, /* x", 1, 5, "unterminated comment"},
	{"lone slash", `[1 / 2]`, 1, 4, "unexpected '/'"},
	{"leading zero", `[01]`, 1, 2, "leading zero"},
	{"hex without digits", `0x`, 1, 3, "expected hexadecimal digit"},
	{"lone sign", `-`, 1, 2, "expected digit"},
	{"lone dot", `.`, 1, 2, "expected digit"},
	{"empty exponent", `1e+`, 1, 4, "expected digit"},
	{"misspelled keyword", `tru`, 1, 4, "unexpected end of input"},
	{"misspelled Infinity", `-Infinit`, 1, 9, "unexpected end of input"},
	{"invalid UTF-8", "[\"a\xffb\"]", 1, 4, "invalid UTF-8"},
	{"columns count characters", `{"é": x}`, 1, 7, "unexpected 'x'"},
	{"control character", "\x01", 1, 1, `unexpected '\x01'`},
	{"too deep", strings.Repeat("[", MaxDepth+1), 1, MaxDepth + 1, "nesting deeper than 200 levels"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse([]byte(tc.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, %v; want *SyntaxError", v, err)
			}
			if se.Line != tc.line || se.Col != tc.col || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("got %q, want line %d, column %d: ...%s...", err, tc.line, tc.col, tc.msg)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Parse([]byte(deep)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	big := make([]byte, MaxSize+1)
	if _, err := Parse(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized input: got %v, want ErrTooLarge", err)
	}
}
