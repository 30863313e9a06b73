package redact

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
		cut     string // RedactCut's result, when it differs from want
	}{
		{"nothing to redact", []string{token}, "gateway listening on 127.0.0.1:18789", "gateway listening on 127.0.0.1:18789", ""},
		{"empty set", nil, "token " + token, "token " + token, ""},
		{"token in a URL", []string{token}, "dashboard http://127.0.0.1:18789/#token=" + token + " ready", "dashboard http://127.0.0.1:18789/#token=[redacted] ready", ""},
		{"every occurrence", []string{"sk-ant-abcdefgh"}, "a sk-ant-abcdefgh b sk-ant-abcdefgh", "a [redacted] b [redacted]", ""},
		{"short values ignored", []string{"true", "18789", "abcdefg"}, "true 18789 abcdefg", "true 18789 abcdefg", ""},
		{"longest first", []string{"abcdefgh", "abcdefgh-and-more"}, "x abcdefgh-and-more y abcdefgh", "x [redacted] y [redacted]", ""},
		{"overlapping secrets merge", []string{"AAAAbbbbCCCC", "CCCCddddEEEE"}, "<AAAAbbbbCCCCddddEEEE>", "<[redacted]>", ""},
		{"adjacent secrets merge", []string{"AAAAAAAA", "BBBBBBBB"}, "AAAAAAAABBBBBBBB!", "[redacted]!", ""},
		{"self-overlapping run", []string{"abababab"}, "ababababab", "[redacted]", ""},
		{"duplicates", []string{token, token}, "t=" + token, "t=[redacted]", ""},
		{"cut: trailing prefix masked", []string{token}, "t=" + token[:20], "t=" + token[:20], "t=[redacted]"},
		{"cut: one byte", []string{"sk-ant-abcdefgh"}, "flags s", "flags s", "flags [redacted]"},
		{"cut: whole secret then prefix", []string{token}, token + " " + token[:9], "[redacted] " + token[:9], "[redacted] [redacted]"},
		{"cut: no prefix at the end", []string{token}, "t=" + token[:20] + " done", "t=" + token[:20] + " done", ""},
		{"cut: full secret at the end", []string{token}, "t=" + token, "t=[redacted]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Set
			s.Update(tt.secrets...)
			if got := s.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			want := tt.cut
			if want == "" {
				want = tt.want
			}
			if got := s.RedactCut(tt.in); got != want {
				t.Errorf("RedactCut(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestUpdateReplaces(t *testing.T) {
	var s Set
	s.Update("old-secret-1", "ab") // "ab" too short
	if n := s.Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
	s.Update("new-secret-2")
	if got := s.Redact("old-secret-1 new-secret-2"); got != "old-secret-1 [redacted]" {
		t.Errorf("after Update: %q", got)
	}
	var nilSet *Set
	if got := nilSet.Redact("new-secret-2"); got != "new-secret-2" {
		t.Errorf("nil set: %q", got)
	}
}

func TestNoAllocWithoutSecrets(t *testing.T) {
	var s Set
	s.Update(token, "sk-ant-api03-xxxxxxxxxxxxxxxx")
	line := strings.Repeat("ordinary log text ", 12)
	if n := testing.AllocsPerRun(100, func() { _ = s.Redact(line) }); n != 0 {
		t.Errorf("%v allocations per clean line, want 0", n)
	}
}

// TestConcurrent is for -race: Update and Redact from many goroutines.
func TestConcurrent(t *testing.T) {
	var s Set
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				s.Update(fmt.Sprintf("secret-%d-%d", i, j), token)
				if got := s.Redact("x " + token); got != "x [redacted]" {
					t.Errorf("Redact = %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkRedact(b *testing.B) {
	secrets := []string{token}
	for i := range 9 {
		secrets = append(secrets, fmt.Sprintf("sk-proj-%02d-%s", i, strings.Repeat("Zq7x", 10)))
	}
	var s Set
	s.Update(secrets...)
	clean := strings.Repeat("2026-01-02T03:04:05.678Z [gateway] ws client connected id=42 ", 4)[:200]
	dirty := clean[:100] + token + clean[164:]
	for _, bc := range []struct{ name, line string }{{"clean", clean}, {"token", dirty}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = s.Redact(bc.line)
			}
		})
	}
}
