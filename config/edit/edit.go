// Package edit changes a few keys of a YAML file and keeps the rest byte
// for byte: comments, blank lines, quoting and key order. yaml.v3's Node
// API finds each key; the new value is spliced into the original text,
// since re-encoding the tree would reflow the whole file.
package edit

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Edit sets the value at a dotted key path, e.g. "tls.mode". Value is a
// string or a []string.
type Edit struct {
	Key   string
	Value any
}

// Apply applies edits in order. changed is false when the document already
// held every value; out is then doc itself. Missing keys (and sections) are
// added at the end of their section (or of the file).
func Apply(doc []byte, edits ...Edit) (out []byte, changed bool, err error) {
	out = doc
	for _, e := range edits {
		next, ch, err := set(out, e.Key, e.Value)
		if err != nil {
			return doc, false, fmt.Errorf("setting %s: %w", e.Key, err)
		}
		if ch {
			if err := verify(out, next, e); err != nil {
				return doc, false, fmt.Errorf("setting %s: %w", e.Key, err)
			}
			out, changed = next, true
		}
	}
	return out, changed, nil
}

// verify re-reads the result: the edited key must hold the new value and
// every other key what it held before. A layout the splicer misjudged (an
// odd block scalar, say) then fails here instead of corrupting the file.
func verify(before, after []byte, e Edit) error {
	var b, a map[string]any
	if err := yaml.Unmarshal(before, &b); err != nil {
		return err
	}
	if err := yaml.Unmarshal(after, &a); err != nil {
		return fmt.Errorf("the edited file would not parse (%v); edit it by hand", err)
	}
	if b == nil {
		b = map[string]any{}
	}
	m := b
	keys := strings.Split(e.Key, ".")
	for _, k := range keys[:len(keys)-1] {
		sub, _ := m[k].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[keys[len(keys)-1]] = generic(e.Value)
	if !reflect.DeepEqual(a, b) {
		return errors.New("the edit would change other keys too; edit the file by hand")
	}
	return nil
}

// generic is v as yaml.Unmarshal returns it into an any.
func generic(v any) any {
	if l, ok := v.([]string); ok {
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	return v
}

// text is the document with its line offsets, to turn yaml.v3's 1-based
// line and (rune) column into byte offsets.
type text struct {
	b     []byte
	lines []int // byte offset of each line's start
}

func newText(b []byte) *text {
	t := &text{b: b, lines: []int{0}}
	for i, c := range b {
		if c == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	return t
}

func (t *text) offset(line, col int) int {
	off := t.lines[line-1]
	for i := 1; i < col && off < len(t.b) && t.b[off] != '\n'; i++ {
		_, n := utf8.DecodeRune(t.b[off:])
		off += n
	}
	return off
}

// lineEnd is the offset of the newline ending line (or len(b)).
func (t *text) lineEnd(line int) int {
	if line < len(t.lines) {
		return t.lines[line] - 1
	}
	return len(t.b)
}

// nextLine is the offset where line+1 starts (len(b) past the end).
func (t *text) nextLine(line int) int {
	if line < len(t.lines) {
		return t.lines[line]
	}
	return len(t.b)
}

func (t *text) splice(from, to int, s string) []byte {
	out := make([]byte, 0, len(t.b)-(to-from)+len(s))
	out = append(out, t.b[:from]...)
	out = append(out, s...)
	return append(out, t.b[to:]...)
}

func set(doc []byte, path string, v any) ([]byte, bool, error) {
	switch v.(type) {
	case string, []string:
	default:
		return nil, false, fmt.Errorf("unsupported value type %T", v)
	}
	var d yaml.Node
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil, false, fmt.Errorf("parsing: %w", err)
	}
	t := newText(doc)
	keys := strings.Split(path, ".")
	if len(d.Content) == 0 { // empty file
		return t.insertAt(len(doc), 0, keys, v)
	}
	m := d.Content[0]
	for i, k := range keys {
		if m.Kind != yaml.MappingNode {
			return nil, false, fmt.Errorf("%s is not a mapping", strings.Join(keys[:i], "."))
		}
		if m.Style&yaml.FlowStyle != 0 {
			return nil, false, fmt.Errorf("%s is written in flow style ({…}); edit it by hand", strings.Join(keys[:i], "."))
		}
		kn, vn := lookup(m, k)
		if kn == nil { // add the rest of the path at the end of m
			return t.insertAt(t.nextLine(t.lastLine(m)), m.Content[0].Column-1, keys[i:], v)
		}
		if i == len(keys)-1 {
			return t.replace(kn, vn, v)
		}
		if vn.Kind == yaml.ScalarNode && vn.Tag == "!!null" && vn.Value == "" { // "tls:" and nothing under it
			return t.insertAt(t.nextLine(kn.Line), kn.Column-1+2, keys[i+1:], v)
		}
		m = vn
	}
	panic("unreachable")
}

func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// lastLine is the last line that belongs to block node n: its last key's
// line, then any following lines indented deeper than n's keys (the rest
// of that key's value). Blank lines and shallower comments end it, so the
// comment that introduces the next section stays with that section.
func (t *text) lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, c.Line)
	}
	indent := n.Column - 1
	for l := last + 1; l <= len(t.lines); l++ {
		s := string(t.b[t.lines[l-1]:t.lineEnd(l)])
		trimmed := strings.TrimLeft(s, " ")
		if strings.TrimSpace(s) == "" || len(s)-len(trimmed) <= indent {
			break
		}
		last = l
	}
	return last
}

// insertAt inserts keys (a path, the last one set to v) at off, the first
// key indented by indent spaces, each further one by two more.
func (t *text) insertAt(off, indent int, keys []string, v any) ([]byte, bool, error) {
	var b strings.Builder
	if off > 0 && t.b[off-1] != '\n' {
		b.WriteByte('\n')
	}
	for i, k := range keys {
		pad := strings.Repeat(" ", indent+2*i)
		if i < len(keys)-1 {
			fmt.Fprintf(&b, "%s%s:\n", pad, k)
			continue
		}
		val, err := render(v)
		if err != nil {
			return nil, false, err
		}
		fmt.Fprintf(&b, "%s%s: %s\n", pad, k, val)
	}
	return t.splice(off, off, b.String()), true, nil
}

// replace swaps the value vn of key kn for v, unless it already equals v.
func (t *text) replace(kn, vn *yaml.Node, v any) ([]byte, bool, error) {
	if equal(vn, v) {
		return t.b, false, nil
	}
	list, isList := v.([]string)
	switch {
	case vn.Kind == yaml.ScalarNode && vn.Tag == "!!null" && vn.Value == "": // "email:" with no value
		colon := bytes.IndexByte(t.b[t.offset(kn.Line, kn.Column):t.lineEnd(kn.Line)], ':')
		if colon < 0 {
			return nil, false, fmt.Errorf("line %d: no colon after the key", kn.Line)
		}
		off := t.offset(kn.Line, kn.Column) + colon + 1
		val, err := render(v)
		if err != nil {
			return nil, false, err
		}
		return t.splice(off, off, " "+val), true, nil
	case vn.Kind == yaml.ScalarNode:
		if vn.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return nil, false, fmt.Errorf("line %d: a block scalar (| or >); edit it by hand", vn.Line)
		}
		start := t.offset(vn.Line, vn.Column)
		end, err := t.scalarEnd(start, vn)
		if err != nil {
			return nil, false, err
		}
		val, err := render(v)
		if err != nil {
			return nil, false, err
		}
		return t.splice(start, end, val), true, nil
	case vn.Kind == yaml.SequenceNode && !isList:
		return nil, false, fmt.Errorf("line %d: holds a list, not a single value", vn.Line)
	case vn.Kind == yaml.SequenceNode && vn.Style&yaml.FlowStyle != 0:
		start := t.offset(vn.Line, vn.Column)
		end, err := t.flowEnd(start)
		if err != nil {
			return nil, false, fmt.Errorf("line %d: %w", vn.Line, err)
		}
		val, _ := render(v)
		return t.splice(start, end, val), true, nil
	case vn.Kind == yaml.SequenceNode: // block style: rewrite its item lines
		from, to := t.lines[vn.Line-1], t.lineEnd(t.lastLine(vn))
		if len(list) == 0 {
			after := t.offset(kn.Line, kn.Column) + len(kn.Value) // "domain" → "domain: []"
			return t.splice(after, to, ": []"), true, nil
		}
		var b strings.Builder
		pad := strings.Repeat(" ", vn.Column-1)
		for i, s := range list {
			val, err := render(s)
			if err != nil {
				return nil, false, err
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s- %s", pad, val)
		}
		return t.splice(from, to, b.String()), true, nil
	}
	return nil, false, fmt.Errorf("line %d: holds a mapping, not a value", vn.Line)
}

// scalarEnd is the offset just past the single-line scalar starting at start.
func (t *text) scalarEnd(start int, vn *yaml.Node) (int, error) {
	eol := t.lineEnd(vn.Line)
	s := t.b[start:eol]
	switch {
	case vn.Style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return start + i + 1, nil
			}
		}
	case vn.Style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return start + i + 1, nil
			}
		}
	default:
		if i := bytes.Index(s, []byte(" #")); i >= 0 {
			s = s[:i]
		}
		return start + len(bytes.TrimRight(s, " \t\r")), nil
	}
	return 0, fmt.Errorf("line %d: a quoted value spanning lines; edit it by hand", vn.Line)
}

// flowEnd is the offset just past the "]" matching the "[" at start.
func (t *text) flowEnd(start int) (int, error) {
	depth := 0
	var quote byte
	for i := start; i < len(t.b); i++ {
		c := t.b[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth--; depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errors.New("unclosed [")
}

// equal reports whether vn already decodes to v; an empty value counts as
// "" or [].
func equal(vn *yaml.Node, v any) bool {
	var got any
	if err := vn.Decode(&got); err != nil {
		return false
	}
	switch want := v.(type) {
	case string:
		return got == want || got == nil && want == ""
	case []string:
		return reflect.DeepEqual(got, generic(want)) || got == nil && len(want) == 0
	}
	return false
}

// render is v as a one-line YAML value: quoted only when YAML needs it
// (yaml.v3 quotes "off", "" and the like), a list in flow style.
func render(v any) (string, error) {
	switch v := v.(type) {
	case string:
		if strings.ContainsAny(v, "\n\r") {
			return "", fmt.Errorf("%q: a value must be one line", v)
		}
		b, err := yaml.Marshal(v)
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(string(b), "\n"), nil
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			r, err := render(s)
			if err != nil {
				return "", err
			}
			parts[i] = r
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("unsupported value type %T", v)
}
