// Package redact masks known secrets (the gateway token, the env file's API
// keys) in text bound for logs and terminals.
//
// Redact text before it is cut to a length limit, never after: a limit
// applied first can leave part of a secret in front of the cut where no
// whole occurrence remains to be found. When the text itself arrives already
// cut (its continuation was discarded unseen), use RedactCut, which also
// masks a trailing fragment that starts a secret.
package redact

import (
	"cmp"
	"slices"
	"strings"
	"sync/atomic"
)

// MinLen is the shortest value treated as a secret: shorter values (a port,
// "true", a user name) would turn ordinary words of a log into "[redacted]",
// and the secrets worth hiding are long (the token is 64 hex characters).
const MinLen = 8

// Mask replaces each secret.
const Mask = "[redacted]"

// Set is a goroutine-safe set of secrets. The zero value is empty and
// ready to use; a nil *Set redacts nothing.
type Set struct {
	p atomic.Pointer[compiled] // replaced whole by Update
}

// compiled groups the secrets by first byte, so a line costs one pass of
// table lookups rather than one substring search per secret.
type compiled struct {
	list   []string   // distinct, longest first
	first  [256]uint8 // first byte → 1 + its index in groups, or 0
	groups [][]string // secrets sharing a first byte, longest first
}

// Update replaces the set with secrets, ignoring values shorter than MinLen
// and duplicates. Lines redacted concurrently see the old or the new set.
func (s *Set) Update(secrets ...string) {
	list := make([]string, 0, len(secrets))
	for _, v := range secrets {
		if len(v) >= MinLen {
			list = append(list, v)
		}
	}
	// Longest first, as a replace-in-turn design would need; mask merges
	// overlapping matches instead, which masks at least as much.
	slices.SortFunc(list, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	c := &compiled{list: slices.Compact(list)}
	for _, v := range c.list {
		if c.first[v[0]] == 0 {
			c.groups = append(c.groups, nil)
			c.first[v[0]] = uint8(len(c.groups)) // at most 256 groups
		}
		g := c.first[v[0]] - 1
		c.groups[g] = append(c.groups[g], v)
	}
	s.p.Store(c)
}

// Len is how many secrets the set holds.
func (s *Set) Len() int { return len(s.load().list) }

var empty compiled

func (s *Set) load() *compiled {
	if s != nil {
		if c := s.p.Load(); c != nil {
			return c
		}
	}
	return &empty
}

// Redact returns text with every occurrence of every secret replaced by
// Mask. Overlapping or adjacent occurrences become one Mask, so no byte of
// any of them survives. Text without secrets is returned as is, without
// allocating.
func (s *Set) Redact(text string) string { return s.load().mask(text, false) }

// RedactCut is Redact for text whose continuation was cut off unseen: it
// also masks a trailing fragment that is the start of a secret, however
// short, since the secret may have continued past the cut. A false match
// costs a few characters at the end of a line that was cut anyway.
func (s *Set) RedactCut(text string) string { return s.load().mask(text, true) }

type span struct{ from, to int }

func (c *compiled) mask(text string, cut bool) string {
	var spans []span
	for off := 0; off < len(text); off++ {
		g := c.first[text[off]]
		if g == 0 {
			continue
		}
		rest := text[off:]
		for _, sec := range c.groups[g-1] {
			// The second-byte test is inline and rejects most false starts.
			if len(rest) >= len(sec) && rest[1] == sec[1] && rest[:len(sec)] == sec {
				spans = append(spans, span{off, off + len(sec)})
			}
		}
	}
	if cut {
		for _, sec := range c.list {
			if n := tailPrefix(text, sec); n > 0 {
				spans = append(spans, span{len(text) - n, len(text)})
			}
		}
	}
	if len(spans) == 0 {
		return text
	}
	if cut { // the scan found spans in order; tail spans came last
		slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	}
	var b strings.Builder
	b.Grow(len(text))
	done := 0 // text[:done] is written
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			to = max(to, spans[i].to)
		}
		b.WriteString(text[done:from])
		b.WriteString(Mask)
		done = to
	}
	b.WriteString(text[done:])
	return b.String()
}

// tailPrefix is the length of the longest proper prefix of sec that text
// ends with, or 0.
func tailPrefix(text, sec string) int {
	for n := min(len(sec)-1, len(text)); n > 0; n-- {
		if text[len(text)-n:] == sec[:n] {
			return n
		}
	}
	return 0
}
