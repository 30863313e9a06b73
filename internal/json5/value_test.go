package json5

import (
	"slices"
	"testing"
)

const openclawJSON5 = `// openclaw config
{
  gateway: { mode: 'local', port: 18789, bind: "loopback", auth: { mode: "token", }, },
  agents: { defaults: { model: { primary: "openai/gpt-6-astra" }, heartbeat: { every: "30m" } } },
  meta: { lastTouchedVersion: "2026.9.6", },
}
`

const openclawJSON = `{
  "gateway": {
    "mode": "local",
    "port": 18789,
    "bind": "loopback",
    "auth": {
      "mode": "token"
    }
  },
  "agents": {
    "defaults": {
      "model": {
        "primary": "openai/gpt-6-astra"
      },
      "heartbeat": {
        "every": "30m"
      }
    }
  },
  "meta": {
    "lastTouchedVersion": "2026.9.6"
  }
}
`

func mustParse(t *testing.T, s string) *Value {
	t.Helper()
	v, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return v
}

func mustMarshal(t *testing.T, v *Value) string {
	t.Helper()
	out, err := v.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: %v", err)
	}
	return string(out)
}

func TestRoundTripOpenClaw(t *testing.T) {
	v := mustParse(t, openclawJSON5)
	if got := mustMarshal(t, v); got != openclawJSON {
		t.Fatalf("got\n%s\nwant\n%s", got, openclawJSON)
	}
	// The gateway's own output must come back byte for byte.
	if got := mustMarshal(t, mustParse(t, openclawJSON)); got != openclawJSON {
		t.Errorf("plain JSON not stable:\n%s", got)
	}
	if p, ok := v.Get("gateway", "port"); !ok || mustInt(p) != 18789 {
		t.Errorf("gateway.port = %v, %v", p, ok)
	}
}

func mustInt(v *Value) int64 { n, _ := v.Int(); return n }

func TestSetDelete(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(v *Value) bool
		parent   []string // object whose key order is checked
		wantKeys []string
	}{
		{"replace keeps position", func(v *Value) bool {
			v.Set([]string{"gateway", "port"}, NewInt(18800))
			return mustInt(must(v.Get("gateway", "port"))) == 18800
		}, []string{"gateway"}, []string{"mode", "port", "bind", "auth"}},
		{"new key appended", func(v *Value) bool {
			v.Set([]string{"gateway", "auth", "token"}, NewString("s3cret"))
			return true
		}, []string{"gateway", "auth"}, []string{"mode", "token"}},
		{"intermediates created", func(v *Value) bool {
			v.Set([]string{"channels", "telegram", "allow"}, NewStrings("a", "b"))
			return len(must(v.Get("channels", "telegram", "allow")).Elems()) == 2
		}, nil, []string{"gateway", "agents", "meta", "channels"}},
		{"non-object on path replaced", func(v *Value) bool {
			v.Set([]string{"gateway", "bind", "x"}, NewBool(true))
			return must(v.Get("gateway", "bind")).Kind() == Object
		}, []string{"gateway"}, []string{"mode", "port", "bind", "auth"}},
		{"delete keeps order", func(v *Value) bool {
			return v.Delete("gateway", "port")
		}, []string{"gateway"}, []string{"mode", "bind", "auth"}},
		{"delete then set appends", func(v *Value) bool {
			ok := v.Delete("gateway", "mode")
			v.Set([]string{"gateway", "mode"}, NewString("remote"))
			return ok
		}, []string{"gateway"}, []string{"port", "bind", "auth", "mode"}},
		{"delete missing", func(v *Value) bool {
			return !v.Delete("gateway", "nope") && !v.Delete("nope", "x") && !v.Delete()
		}, []string{"gateway"}, []string{"mode", "port", "bind", "auth"}},
		{"delete through non-object", func(v *Value) bool {
			return !v.Delete("gateway", "mode", "x")
		}, []string{"gateway"}, []string{"mode", "port", "bind", "auth"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := mustParse(t, openclawJSON5)
			orig := v.Clone()
			if !tc.edit(v) {
				t.Fatal("edit check failed")
			}
			if got := must(v.Get(tc.parent...)).Keys(); !slices.Equal(got, tc.wantKeys) {
				t.Errorf("keys = %q, want %q", got, tc.wantKeys)
			}
			// Subtrees the edit did not address must be untouched.
			for _, k := range orig.Keys() {
				if len(tc.parent) > 0 && k == tc.parent[0] {
					continue
				}
				if !Equal(must(v.Get(k)), must(orig.Get(k))) {
					t.Errorf("%s changed", k)
				}
			}
		})
	}
}

func must(v *Value, ok bool) *Value {
	if !ok {
		return nil
	}
	return v
}

func TestSetCopiesAndRoot(t *testing.T) {
	v := NewObject()
	model := NewObject()
	model.Set([]string{"primary"}, NewString("a"))
	v.Set([]string{"x"}, model)
	v.Set([]string{"y"}, model)
	model.Set([]string{"primary"}, NewString("b"))  // must not reach into v
	v.Set([]string{"x", "primary"}, NewString("c")) // must not reach y
	if got := mustMarshal(t, v); got != "{\n  \"x\": {\n    \"primary\": \"c\"\n  },\n  \"y\": {\n    \"primary\": \"a\"\n  }\n}\n" {
		t.Errorf("aliasing leaked: %s", got)
	}
	v.Set([]string{"self"}, v) // a copy, so no cycle
	if _, err := v.MarshalIndent(); err != nil {
		t.Error(err)
	}
	s := NewString("x")
	s.Set([]string{"a"}, nil) // non-object root becomes an object; nil stores null
	if got := mustMarshal(t, s); got != "{\n  \"a\": null\n}\n" {
		t.Errorf("got %s", got)
	}
	s.Set(nil, NewInt(7))
	if n, ok := s.Int(); !ok || n != 7 {
		t.Errorf("Set(nil path) = %v", s)
	}
	var nilv *Value
	nilv.Set([]string{"a"}, NewInt(1)) // no panic
	if _, ok := nilv.Get(); ok || nilv.Kind() != Null || nilv.Keys() != nil {
		t.Error("nil Value misbehaves")
	}
}

func TestAccessors(t *testing.T) {
	v := mustParse(t, `{s: 'x', b: true, n: 1.5, i: 1e3, big: 9007199254740993, h: 0x7fffffffffffffff,
		huge: 1e19, inf: Infinity, neg: -42, arr: [1, 'a'], nul: null}`)
	if s, ok := must(v.Get("s")).String(); !ok || s != "x" {
		t.Error("String")
	}
	if b, ok := must(v.Get("b")).Bool(); !ok || !b {
		t.Error("Bool")
	}
	if f, ok := must(v.Get("n")).Number(); !ok || f != 1.5 {
		t.Error("Number")
	}
	for key, want := range map[string]int64{"i": 1000, "big": 9007199254740993, "h": 1<<63 - 1, "neg": -42} {
		if n, ok := must(v.Get(key)).Int(); !ok || n != want {
			t.Errorf("Int(%s) = %d, %v; want %d", key, n, ok, want)
		}
	}
	for _, key := range []string{"n", "huge", "inf", "s"} {
		if _, ok := must(v.Get(key)).Int(); ok {
			t.Errorf("Int(%s) should fail", key)
		}
	}
	if _, ok := must(v.Get("s")).Number(); ok {
		t.Error("Number of string")
	}
	if _, ok := must(v.Get("n")).String(); ok {
		t.Error("String of number")
	}
	if k := must(v.Get("arr")).Kind(); k != Array || k.String() != "array" || len(must(v.Get("arr")).Elems()) != 2 {
		t.Error("Elems")
	}
	if must(v.Get("nul")).Kind() != Null || v.Elems() != nil || must(v.Get("arr")).Keys() != nil {
		t.Error("kind mismatch")
	}
	if _, ok := v.Get("s", "deeper"); ok {
		t.Error("Get through string")
	}
}
