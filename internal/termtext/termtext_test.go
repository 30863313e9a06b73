package termtext

import "testing"

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "gateway refused its configuration", "gateway refused its configuration"},
		{"OSC title BEL", "\x1b]0;pwned\x07ok", "ok"},
		{"OSC title ST", "\x1b]0;pwned\x1b\\ok", "ok"},
		{"OSC hyperlink", "\x1b]8;;https://evil.test\x07click\x1b]8;;\x07", "click"},
		{"clear screen", "\x1b[2Jbad\x1b[H", "bad"},
		{"colours", "\x1b[31mred\x1b[0m", "red"},
		{"C1 CSI", "\u009b2Jx", "x"},
		{"C1 OSC", "\u009d0;pwned\u009cx", "x"},
		{"carriage return", "fake ok\rreal", "fake okreal"},
		{"CRLF", "a\r\nb", "a b"},
		{"tab and newline", "a\tb\nc", "a b c"},
		{"other C0 and DEL", "a\x00b\x07c\x08d\x7fe", "abcde"},
		{"C1 NEL", "a\u0085b", "ab"},
		{"bidi override", "abc\u202edcba\u202c", "abcdcba"},
		{"bidi isolates", "\u2066x\u2067y\u2068z\u2069", "xyz"},
		{"direction marks", "a\u200eb\u200fc\u061cd", "abcd"},
		{"line separator", "a\u2028b\u2029c", "a b c"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"unicode kept", "héllo ✓ 日本", "héllo ✓ 日本"},
		{"lone ESC at end", "abc\x1b", "abc"},
		{"unterminated OSC", "ok\x1b]0;never ends", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clean(tt.in); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendLineKeepsTabs(t *testing.T) {
	if got := string(AppendLine([]byte("> "), []byte("a\tb\r\u202ec\u2028d"))); got != "> a\tbcd" {
		t.Errorf("AppendLine = %q", got)
	}
}
