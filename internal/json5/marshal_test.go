package json5

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestMarshalNumbers(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"integer kept", `18789`, `18789`},
		{"exponent kept", `1e3`, `1e3`},
		{"signed exponent kept", `1E+3`, `1E+3`},
		{"trailing zeros kept", `1.50`, `1.50`},
		{"negative zero kept", `-0`, `-0`},
		{"beyond float64 kept", `12345678901234567890123`, `12345678901234567890123`},
		{"overflow literal kept", `1e999`, `1e999`},
		{"hex to decimal", `0xFF`, `255`},
		{"negative hex", `-0x10`, `-16`},
		{"hex beyond int64", `0x10000000000000001`, `18446744073709551617`},
		{"leading dot", `.5`, `0.5`},
		{"negative leading dot", `-.5e-3`, `-0.5e-3`},
		{"trailing dot", `5.`, `5`},
		{"trailing dot with exponent", `5.e2`, `5e2`},
		{"plus sign dropped", `+1`, `1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustMarshal(t, mustParse(t, tc.in)); got != tc.want+"\n" {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMarshalNonFinite(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"Infinity", `{gateway: {port: Infinity}}`, "cannot write Infinity at gateway.port"},
		{"-Infinity", `-Infinity`, "cannot write -Infinity at top level"},
		{"NaN in array", `{a: [1, NaN]}`, "cannot write NaN at a[1]"},
		{"huge hex", "0x1" + strings.Repeat("0", 256), "cannot write Infinity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := mustParse(t, tc.in).MarshalIndent()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, %v; want error %q", out, err, tc.want)
			}
		})
	}
	if _, err := NewNumber(math.Inf(1)).MarshalIndent(); err == nil {
		t.Error("NewNumber(+Inf) marshalled")
	}
}

func TestMarshalStrings(t *testing.T) {
	cases := []struct {
		name string
		v    *Value
		want string
	}{
		{"escapes like JSON.stringify", NewString("q\" b\\ \b\f\n\r\t \x00\x1f\x7f <&>"),
			`"q\" b\\ \b\f\n\r\t \u0000\u001f` + "\x7f" + ` <&>"`},
		{"non-ASCII raw", NewString("é😀\u2028"), "\"é😀\u2028\""},
		{"invalid UTF-8", NewString("a\xffb"), `"a\ufffdb"`},
		{"empty containers", NewArray(NewObject(), NewArray()), "[\n  {},\n  []\n]"},
		{"strings array", NewStrings("a", "b"), "[\n  \"a\",\n  \"b\"\n]"},
		{"NewNumber", NewArray(NewNumber(0.1), NewNumber(1e21), NewNumber(1234567), NewNumber(-2e-7)),
			"[\n  0.1,\n  1e+21,\n  1234567,\n  -2e-07\n]"},
		{"nil is null", nil, "null"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustMarshal(t, tc.v); got != tc.want+"\n" {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	a := mustParse(t, `{x: [1, 'a', {p: null}], y: true, n: NaN}`)
	if !Equal(a, mustParse(t, `{n: NaN, y: true, x: [1e0, "a", {p: null}]}`)) {
		t.Error("order or literal form should not matter")
	}
	for _, b := range []string{`{x: [1, 'a', {p: 0}], y: true, n: NaN}`, `{x: [1, 'a'], y: true, n: NaN}`,
		`{x: [1, 'a', {p: null}], y: true}`, `{x: [1, 'a', {p: null}], y: true, m: NaN}`, `[]`} {
		if Equal(a, mustParse(t, b)) {
			t.Errorf("Equal to %s", b)
		}
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives a MarshalIndent round trip: the output is valid JSON, re-parses to
// an Equal value and is a fixed point of parse+marshal.
func FuzzParse(f *testing.F) {
	f.Add([]byte(openclawJSON5))
	for _, tc := range featureCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		out, err := v.MarshalIndent()
		if err != nil {
			if !strings.Contains(err.Error(), "cannot write") {
				t.Fatalf("MarshalIndent: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON output:\n%s", out)
		}
		w, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if !Equal(v, w) {
			t.Fatalf("round trip changed the value:\n%s", out)
		}
		if again, _ := w.MarshalIndent(); !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point:\n%s\nvs\n%s", out, again)
		}
	})
}
