package logpipe

import (
	"testing"
	"time"
)

func TestCleanLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello world", "hello world"},
		{"gateway colours", "\x1b[90m2025-11-26T03:00:00.000Z\x1b[39m \x1b[36m[gateway]\x1b[39m listening", "2025-11-26T03:00:00.000Z [gateway] listening"},
		{"truecolor and reset", "\x1b[38;2;255;0;0mred\x1b[0m", "red"},
		{"OSC hyperlink BEL", "\x1b]8;;https://x.test\x07link\x1b]8;;\x07", "link"},
		{"OSC title ST", "\x1b]0;title\x1b\\text", "text"},
		{"charset select", "\x1b(Bplain", "plain"},
		{"two-byte escape", "\x1b7saved\x1b8", "saved"},
		{"trailing CR", "line\r", "line"},
		{"trailing spaces", "line  \t ", "line"},
		{"leading indent kept", "    at foo (bar.js:1:2)", "    at foo (bar.js:1:2)"},
		{"tab kept", "a\tb", "a\tb"},
		{"controls dropped", "a\x00b\x07c\x08d\x7fe", "abcde"},
		{"C1 CSI", "\u009b31mred", "red"},
		{"C1 control dropped", "a\u0085b", "ab"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"unicode kept", "héllo ✓ 日本", "héllo ✓ 日本"},
		{"only escapes", "\x1b[0m\x1b[K", ""},
		{"lone ESC at end", "abc\x1b", "abc"},
		{"unterminated OSC", "ok\x1b]0;never ends", "ok"},
		{"bidi override dropped", "user \u202egnp.exe\u202c done", "user gnp.exe done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(cleanLine(nil, []byte(tt.in))); got != tt.want {
				t.Errorf("cleanLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"counters", "retry attempt 7", "retry attempt 1234", true},
		{"durations of any unit", "retrying in 120ms", "retrying in 1.5s", true},
		{"compound duration", "uptime 2m30s", "uptime 45s", true},
		{"ISO timestamps", "2025-11-26T03:00:00.123Z ws connect", "2025-11-27T13:59:59+01:00 ws connect", true},
		{"UUIDs", "conn 3f2a9c1e-0b7d-4e8a-9f00-1234567890ab closed", "conn 00000000-aaaa-bbbb-cccc-dddddddddddd closed", true},
		{"hex ids", "trace deadbeef01 done", "trace 0123abcdef done", true},
		{"0x values", "flags 0x1f", "flags 0XA", true},
		{"addresses", "ECONNREFUSED 127.0.0.1:18789", "ECONNREFUSED 10.0.0.12:443", true},
		{"digits inside words", "conn42 open", "conn7 open", true},
		{"thousands", "read 1,234 bytes", "read 9 bytes", true},
		{"different words", "ws connect", "ws close", false},
		{"short hex word stays", "added feed", "added face", false},
		{"unit needs boundary", "5 messages", "5 sessions", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pa, pb := pattern(tt.a), pattern(tt.b)
			if (pa == pb) != tt.same {
				t.Errorf("pattern(%q) = %q, pattern(%q) = %q; same = %v, want %v", tt.a, pa, tt.b, pb, pa == pb, tt.same)
			}
		})
	}
}

func TestPatternTokens(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"timestamp is one token", "2025-11-26T03:00:00.123Z x", "# x"},
		{"duration is one token", "took 120ms", "took #"},
		{"uuid is one token", "id=3f2a9c1e-0b7d-4e8a-9f00-1234567890ab", "id=#"},
		{"word with digits", "v1.2.3", "v#"},
		{"no variables", "gateway ready", "gateway ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pattern(tt.in); got != tt.want {
				t.Errorf("pattern(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    string
		wantCut int
	}{
		{"short", "abc", 5, "abc", 0},
		{"exact", "abcde", 5, "abcde", 0},
		{"cut", "abcdefgh", 5, "abcde", 3},
		{"rune boundary", "aé日", 4, "aé", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := truncate([]byte(tt.in), tt.max)
			if string(got) != tt.want || cut != tt.wantCut {
				t.Errorf("truncate(%q, %d) = %q, %d; want %q, %d", tt.in, tt.max, got, cut, tt.want, tt.wantCut)
			}
		})
	}
}

func TestFmtCount(t *testing.T) {
	tests := []struct {
		name string
		in   uint64
		want string
	}{
		{"zero", 0, "0"},
		{"hundreds", 999, "999"},
		{"thousands", 4812, "4,812"},
		{"millions", 49315000, "49,315,000"},
		{"exact group", 100000, "100,000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmtCount(tt.in); got != tt.want {
				t.Errorf("fmtCount(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFmtSpan(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"negative", -time.Second, "0s"},
		{"sub-second", 850 * time.Millisecond, "850ms"},
		{"a minute", 59990 * time.Millisecond, "60s"},
		{"minutes", 5 * time.Minute, "5m"},
		{"hours", 3 * time.Hour, "3h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmtSpan(tt.in); got != tt.want {
				t.Errorf("fmtSpan(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
