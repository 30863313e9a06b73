package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one mistake in a config file. Its text names the file, the line,
// the key and the fix.
type Error struct {
	File string
	Line int    // 0 when the key is absent from the file
	Key  string // dotted path, e.g. "gateway.port"
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if loc == "" {
		loc = "config"
	}
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, e.Line)
	}
	if e.Key == "" {
		return loc + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
}

// Load reads, strictly decodes and validates the file at path. Every
// mistake found is returned, joined.
func Load(path string) (*Config, error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // reloads and status name the file wherever they run
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading config: %w (create it from openclawd.example.yaml, or pass --config PATH)", err)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(path, b)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes b over the defaults without validating values. Unknown keys,
// wrong types and durations without a unit are errors.
func Parse(path string, b []byte) (*Config, error) {
	c := Default()
	c.Path = path
	c.lines = map[string]int{}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &Error{File: path, Line: yamlLine(err.Error()), Msg: "invalid YAML: " + stripYAMLPrefix(err.Error())}
	}
	if len(doc.Content) == 0 { // empty file: all defaults
		return c, nil
	}
	var errs []error
	c.walk(doc.Content[0], reflect.TypeOf(*c), "", &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, c.typeErrors(err)
	}
	if len(c.Gateway.Command) == 0 { // "command: []" means unset
		c.Gateway.Command = nil
	}
	if len(c.Gateway.Env) == 0 {
		c.Gateway.Env = nil
	}
	if len(c.TLS.Domain) == 0 {
		c.TLS.Domain = nil
	}
	// openclaw.install_user was the service user's name before user
	// existed: a config kept from then still means the same account.
	if c.Openclaw.InstallUser != "" && c.lines["user"] == 0 {
		c.User = c.Openclaw.InstallUser
	}
	return c, nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	namesType    = reflect.TypeOf(Names(nil))
)

// walk records the line of every key and catches what yaml.v3 would accept
// silently or explain badly: unknown keys, and bare numbers as durations
// (yaml.v3 reads "interval: 10" as 10 nanoseconds).
func (c *Config) walk(n *yaml.Node, t reflect.Type, prefix string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
			*errs = append(*errs, &Error{File: c.Path, Line: n.Line, Key: prefix,
				Msg: fmt.Sprintf("%s has no unit; write a duration such as %ss or %sms", n.Value, n.Value, n.Value)})
		}
	case t == namesType && n.Kind != yaml.ScalarNode && n.Kind != yaml.SequenceNode:
		*errs = append(*errs, &Error{File: c.Path, Line: n.Line, Key: prefix, Msg: namesHint})
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := join(prefix, k.Value)
			c.lines[path] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, &Error{File: c.Path, Line: k.Line, Key: path,
					Msg: "unknown key" + suggest(k.Value, fields, prefix)})
				continue
			}
			c.walk(v, f, path, errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			c.lines[p] = item.Line
			c.walk(item, t.Elem(), p, errs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.lines[join(prefix, n.Content[i].Value)] = n.Content[i].Line
		}
	}
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = t.Field(i).Type
		}
	}
	return m
}

func suggest(key string, fields map[string]reflect.Type, prefix string) string {
	var names []string
	for name := range fields {
		if strings.Contains(name, key) || strings.Contains(key, name) || editDistance(name, key) <= 2 {
			return fmt.Sprintf("; did you mean %q?", join(prefix, name))
		}
		names = append(names, name)
	}
	sort.Strings(names)
	where := "at the top level"
	if prefix != "" {
		where = "under " + prefix
	}
	return fmt.Sprintf("; known keys %s: %s", where, strings.Join(names, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var (
	lineRE   = regexp.MustCompile(`line (\d+)`)
	linePfx  = regexp.MustCompile(`line \d+: `)
	unmarshl = regexp.MustCompile("line (\\d+): cannot unmarshal !!(\\w+) `([^`]*)` into (\\S+)")
)

// typeErrors rewrites yaml.v3's unmarshal errors into Errors with the key.
func (c *Config) typeErrors(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &Error{File: c.Path, Line: yamlLine(err.Error()), Msg: stripYAMLPrefix(err.Error())}
	}
	var errs []error
	for _, s := range te.Errors {
		e := &Error{File: c.Path, Line: yamlLine(s), Msg: s}
		if m := unmarshl.FindStringSubmatch(s); m != nil {
			e.Msg = fmt.Sprintf("%q is not a valid %s", m[3], friendlyType(m[4]))
		}
		e.Key = c.keyAt(e.Line)
		if e.Key != "" {
			e.Msg = strings.TrimPrefix(e.Msg, fmt.Sprintf("line %d: ", e.Line))
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func friendlyType(goType string) string {
	switch goType {
	case "int":
		return "number"
	case "time.Duration":
		return "duration (such as 10s or 2m)"
	case "[]string":
		return "list of strings (such as [\"/usr/bin/node\", \"gw.js\"])"
	case "map[string]string":
		return "map of NAME: value"
	case "bool", "*bool":
		return "boolean (true or false)"
	}
	return goType
}

// keyAt returns the deepest key path on line, if any.
func (c *Config) keyAt(line int) string {
	best := ""
	for k, l := range c.lines {
		if l == line && len(k) > len(best) {
			best = k
		}
	}
	return best
}

func yamlLine(s string) int {
	if m := lineRE.FindStringSubmatch(s); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	return 0
}

func stripYAMLPrefix(s string) string {
	s = strings.TrimPrefix(s, "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n  ")
	return linePfx.ReplaceAllString(s, "")
}
