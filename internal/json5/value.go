// Package json5 reads and edits JSON5 documents such as the OpenClaw
// gateway's openclaw.json without disturbing what it was not asked to change.
//
// openclawd edits a handful of keys in a file that the user and the gateway
// also own, and the gateway's schema rejects unknown keys. So Value is a tree
// that keeps object key order and original number literals, and the editing
// operations touch exactly the addressed key: Set replaces a value where it
// stands or appends a new key at the end, Delete removes one key, and nothing
// else moves or appears.
//
// Parse accepts the JSON5 grammar (https://spec.json5.org): comments, trailing
// commas, unquoted identifier keys, single-quoted strings, line continuations,
// \x and \u escapes, hexadecimal numbers, leading or trailing decimal points,
// an explicit plus sign, Infinity and NaN. As with JSON.parse, a duplicated
// object key keeps the position of its first occurrence and the value of its
// last.
//
// MarshalIndent writes plain JSON with 2-space indentation, as the gateway
// itself does. Comments and JSON5-only syntax are therefore lost on write:
// hexadecimal and dotted-edge numbers are rewritten in decimal, and Infinity
// and NaN, which JSON cannot express, make MarshalIndent fail rather than
// silently change the value.
package json5

import (
	"math"
	"slices"
	"strconv"
)

// Kind is the type of a Value.
type Kind int

// The JSON value kinds. The zero Value is Null.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "bool"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a parsed JSON5 value; objects keep key order. Methods treat a nil
// *Value as null.
type Value struct {
	kind  Kind
	b     bool
	num   float64
	lit   string // JSON text of a number, kept verbatim; "" if JSON has none (±Inf, NaN)
	str   string
	elems []*Value       // Array
	keys  []string       // Object, in document order
	vals  []*Value       // Object, parallel to keys
	index map[string]int // Object: key → position in keys
}

// NewNull returns a null value.
func NewNull() *Value { return &Value{} }

// NewBool returns a boolean value.
func NewBool(b bool) *Value { return &Value{kind: Bool, b: b} }

// NewString returns a string value.
func NewString(s string) *Value { return &Value{kind: String, str: s} }

// NewInt returns an integer number value.
func NewInt(n int64) *Value {
	return &Value{kind: Number, num: float64(n), lit: strconv.FormatInt(n, 10)}
}

// NewNumber returns a number value, formatted the way JavaScript prints it.
// ±Inf and NaN are accepted but make MarshalIndent fail.
func NewNumber(f float64) *Value {
	v := &Value{kind: Number, num: f}
	switch a := math.Abs(f); {
	case math.IsInf(f, 0) || math.IsNaN(f):
	case a >= 1e21 || (a < 1e-6 && a != 0):
		v.lit = strconv.FormatFloat(f, 'e', -1, 64)
	default:
		v.lit = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return v
}

// NewStrings returns an array of strings.
func NewStrings(ss ...string) *Value {
	v := &Value{kind: Array}
	for _, s := range ss {
		v.elems = append(v.elems, NewString(s))
	}
	return v
}

// NewArray returns an array holding copies of elems.
func NewArray(elems ...*Value) *Value {
	v := &Value{kind: Array}
	for _, e := range elems {
		v.elems = append(v.elems, e.Clone())
	}
	return v
}

// NewObject returns an empty object.
func NewObject() *Value { return &Value{kind: Object} }

// Kind reports the value's kind.
func (v *Value) Kind() Kind {
	if v == nil {
		return Null
	}
	return v.kind
}

// Bool returns the value of a boolean.
func (v *Value) Bool() (bool, bool) { return v.Kind() == Bool && v.b, v.Kind() == Bool }

// String returns the value of a string.
func (v *Value) String() (string, bool) {
	if v.Kind() != String {
		return "", false
	}
	return v.str, true
}

// Number returns the value of a number as JSON.parse would read it.
func (v *Value) Number() (float64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	return v.num, true
}

// Int returns the value of a number that is integral and fits in an int64.
func (v *Value) Int() (int64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	// The literal is exact even beyond 2^53, where the float64 is not.
	if n, err := strconv.ParseInt(v.lit, 10, 64); err == nil {
		return n, true
	}
	f := v.num // literals such as 1e3 or 5.0; also rejects NaN and ±Inf
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// Keys returns an object's keys in order, or nil for any other kind.
func (v *Value) Keys() []string {
	if v.Kind() != Object {
		return nil
	}
	return slices.Clone(v.keys)
}

// Elems returns an array's elements, or nil for any other kind. The elements
// are the tree's own, so they can be edited in place.
func (v *Value) Elems() []*Value {
	if v.Kind() != Array {
		return nil
	}
	return slices.Clone(v.elems)
}

// Get follows path through nested objects. An empty path returns v itself.
func (v *Value) Get(path ...string) (*Value, bool) {
	if v == nil {
		return nil, false
	}
	for _, k := range path {
		if v.kind != Object {
			return nil, false
		}
		i, ok := v.index[k]
		if !ok {
			return nil, false
		}
		v = v.vals[i]
	}
	return v, true
}

// Set stores a copy of val at path. An existing key keeps its position; a new
// key is appended at the end of its object. Missing intermediate objects are
// created, and a non-object met along the path (v included) is replaced by an
// empty object. An empty path replaces v's content. A nil val stores null.
func (v *Value) Set(path []string, val *Value) {
	if v == nil {
		return
	}
	val = val.Clone() // no aliasing, so no cycles and no edits at a distance
	for i, k := range path {
		if v.kind != Object {
			*v = Value{kind: Object}
		}
		if i == len(path)-1 {
			v.put(k, val)
			return
		}
		next, ok := v.Get(k)
		if !ok {
			next = NewObject()
			v.put(k, next)
		}
		v = next
	}
	*v = *val
}

// Delete removes the key at path, keeping the order of the others. It reports
// whether the key existed.
func (v *Value) Delete(path ...string) bool {
	if len(path) == 0 {
		return false
	}
	parent, ok := v.Get(path[:len(path)-1]...)
	k := path[len(path)-1]
	if !ok || parent.kind != Object {
		return false
	}
	i, ok := parent.index[k]
	if !ok {
		return false
	}
	parent.keys = slices.Delete(parent.keys, i, i+1)
	parent.vals = slices.Delete(parent.vals, i, i+1)
	delete(parent.index, k)
	for j := i; j < len(parent.keys); j++ {
		parent.index[parent.keys[j]] = j
	}
	return true
}

// put sets key k of object v, replacing in place when k exists.
func (v *Value) put(k string, val *Value) {
	if i, ok := v.index[k]; ok {
		v.vals[i] = val
		return
	}
	if v.index == nil {
		v.index = make(map[string]int)
	}
	v.index[k] = len(v.keys)
	v.keys = append(v.keys, k)
	v.vals = append(v.vals, val)
}
