// Package semver is the small part of npm's semantic versioning openclawd
// needs to pin and upgrade its runtime: checking that a version is a plain
// release (MAJOR.MINOR.PATCH, so that a flag value can never reach npm or a
// URL as anything else), ordering releases, and testing a Node version
// against a package's engines.node range.
//
// Ranges are the subset engines.node fields use: "||" alternatives of
// space-separated comparators (<, <=, >, >=, =, ^, ~, bare and partial
// versions, x/* wildcards) and hyphen ranges. Prerelease tags are rejected
// rather than half-supported: the runtime is pinned to releases.
package semver

import (
	"fmt"
	"strconv"
	"strings"
)

type version [3]int

func (v version) cmp(w version) int {
	for i := range v {
		if v[i] != w[i] {
			if v[i] < w[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Valid reports whether s is a plain release such as "24.21.0": three
// decimal numbers without leading zeros, no "v", no prerelease or build tag.
func Valid(s string) error {
	_, err := parse(s)
	return err
}

// Compare orders two plain releases: -1 if a < b, 0 if equal, +1 if a > b.
// "2026.9.6" < "2026.10.1": components compare as numbers.
func Compare(a, b string) (int, error) {
	va, err := parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := parse(b)
	if err != nil {
		return 0, err
	}
	return va.cmp(vb), nil
}

// Satisfies reports whether the plain release v is in the npm range rng.
func Satisfies(v, rng string) (bool, error) {
	ver, err := parse(v)
	if err != nil {
		return false, err
	}
	ok := false
	for _, alt := range strings.Split(rng, "||") {
		bs, err := parseSet(alt)
		if err != nil {
			return false, fmt.Errorf("range %q: %w", rng, err)
		}
		all := true
		for _, b := range bs {
			all = all && b.ok(ver)
		}
		ok = ok || all
	}
	return ok, nil
}

// parse accepts only a full release; the error says what is wrong with s.
func parse(s string) (version, error) {
	const want = "want a release such as 24.21.0"
	if s == "" {
		return version{}, fmt.Errorf("empty version: %s", want)
	}
	if i := strings.IndexAny(s, "-+"); i > 0 {
		return version{}, fmt.Errorf("version %q has a prerelease or build tag (%q): %s", s, s[i:], want)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return version{}, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH: %s", s, want)
	}
	var v version
	for i, f := range parts {
		n, err := number(f)
		if err != nil {
			return version{}, fmt.Errorf("version %q: %w: %s", s, err, want)
		}
		v[i] = n
	}
	return v, nil
}

// number parses one component: decimal digits, no sign, no leading zero.
func number(f string) (int, error) {
	if f == "" || strings.Trim(f, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", f)
	}
	if len(f) > 1 && f[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", f)
	}
	n, err := strconv.Atoi(f)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", f)
	}
	return n, nil
}

// partial is a version with n leading components given (0 for "*").
type partial struct {
	v version
	n int
}

// parsePartial reads a range's version: npm also allows a "v" prefix,
// missing components and wildcards there.
func parsePartial(s string) (partial, error) {
	s = strings.TrimPrefix(s, "v")
	if s == "" || s == "*" || s == "x" || s == "X" {
		return partial{}, nil
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return partial{}, fmt.Errorf("bad version %q", s)
	}
	var p partial
	for i, f := range parts {
		if f == "*" || f == "x" || f == "X" {
			break // components after a wildcard are ignored, as in npm
		}
		n, err := number(f)
		if err != nil {
			return partial{}, fmt.Errorf("bad version %q (prereleases are not supported)", s)
		}
		p.v[i], p.n = n, i+1
	}
	return p, nil
}

// next is the lowest version above everything p matches (1.2 -> 1.3.0).
func (p partial) next() version {
	switch p.n {
	case 1:
		return version{p.v[0] + 1, 0, 0}
	case 2:
		return version{p.v[0], p.v[1] + 1, 0}
	}
	return p.v
}

type bound struct {
	op string // one of >=, >, <=, <
	v  version
}

func (b bound) ok(v version) bool {
	c := v.cmp(b.v)
	switch b.op {
	case ">=":
		return c >= 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	}
	return c < 0
}

// bounds desugars one comparator into plain bounds, following npm semver.
func bounds(op string, p partial) []bound {
	lo := bound{">=", p.v}
	switch {
	case p.n == 0 && (op == "<" || op == ">"):
		return []bound{{"<", version{}}} // matches nothing
	case p.n == 0:
		return nil // matches everything
	case op == ">=":
		return []bound{lo}
	case op == ">" && p.n == 3:
		return []bound{{">", p.v}}
	case op == ">":
		return []bound{{">=", p.next()}}
	case op == "<":
		return []bound{{"<", p.v}}
	case op == "<=" && p.n == 3:
		return []bound{{"<=", p.v}}
	case op == "<=":
		return []bound{{"<", p.next()}}
	case op == "~" && p.n == 1:
		return []bound{lo, {"<", version{p.v[0] + 1, 0, 0}}}
	case op == "~":
		return []bound{lo, {"<", version{p.v[0], p.v[1] + 1, 0}}}
	case op == "^" && (p.v[0] > 0 || p.n == 1):
		return []bound{lo, {"<", version{p.v[0] + 1, 0, 0}}}
	case op == "^" && (p.v[1] > 0 || p.n == 2):
		return []bound{lo, {"<", version{0, p.v[1] + 1, 0}}}
	case op == "^":
		return []bound{lo, {"<", version{0, 0, p.v[2] + 1}}}
	case p.n == 3: // "=" or bare
		return []bound{lo, {"<=", p.v}}
	}
	return []bound{lo, {"<", p.next()}}
}

var ops = []string{">=", "<=", ">", "<", "=", "^", "~"} // longest first

// parseSet parses one "||" alternative into the bounds it requires.
func parseSet(s string) ([]bound, error) {
	f := strings.Fields(s)
	if len(f) == 3 && f[1] == "-" { // hyphen range "a - b"
		a, err := parsePartial(f[0])
		if err != nil {
			return nil, err
		}
		b, err := parsePartial(f[2])
		if err != nil {
			return nil, err
		}
		return append(bounds(">=", a), bounds("<=", b)...), nil
	}
	var out []bound
	for i := 0; i < len(f); i++ {
		c := f[i]
		op := ""
		for _, o := range ops {
			if strings.HasPrefix(c, o) {
				op, c = o, c[len(o):]
				break
			}
		}
		if op != "" && c == "" && i+1 < len(f) { // ">= 1.2.3"
			i++
			c = f[i]
		}
		if op != "" && c == "" {
			return nil, fmt.Errorf("operator %q without a version", op)
		}
		p, err := parsePartial(c)
		if err != nil {
			return nil, err
		}
		out = append(out, bounds(op, p)...)
	}
	return out, nil
}
