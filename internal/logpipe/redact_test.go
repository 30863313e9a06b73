package logpipe

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/internal/redact"
)

const (
	testToken  = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	testAPIKey = "sk-ant-api03-QmVhcmVyIHRva2VuIGV4YW1wbGU"
)

// TestPipeSecretAtCut places a secret at and around both places a line is
// cut: MaxLineBytes (truncation of the cleaned line) and rawCap (the raw
// bytes held of an unfinished line). No 8-byte piece of it may get out.
func TestPipeSecretAtCut(t *testing.T) {
	const maxLine = 256
	const rawCap = 2 * maxLine
	esc100 := strings.Repeat("\x1b[0m", 100) // 400 raw bytes, nothing cleaned
	// at builds a line whose raw byte at index pos is the secret's first.
	at := func(prefix string, pos int, secret string) string {
		return prefix + strings.Repeat("x", pos-len(prefix)) + secret + strings.Repeat("y", 100) + "\n" // stays over MaxLineBytes once redacted
	}
	type tc struct {
		name   string
		secret string
		line   string
	}
	var tests []tc
	for _, d := range []int{-64, -63, -54, -32, -9, -8, -7, -1, 0, 1} {
		tests = append(tests,
			tc{fmt.Sprintf("token at truncation%+d", d), testToken, at("", maxLine+d, testToken)},
			tc{fmt.Sprintf("token at raw cap%+d, escapes keep it under MaxLineBytes", d), testToken, at(esc100, rawCap+d, testToken)},
			tc{fmt.Sprintf("token at raw cap%+d, plain", d), testToken, at("", rawCap+d, testToken)},
			tc{fmt.Sprintf("API key at raw cap%+d", d), testAPIKey, at(esc100, rawCap+d, testAPIKey)},
		)
	}
	// The cut falls inside an escape that splits the token: cleaning joins
	// the two halves, so only the front half is left at the end.
	split := testToken[:30] + "\x1b[1m" + testToken[30:]
	tests = append(tests, tc{"escape inside token at raw cap", testToken, at(esc100, rawCap-32, split)})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var secrets redact.Set
			secrets.Update(testToken, testAPIKey)
			p, h, _ := newTestPipe(Options{MaxLineBytes: maxLine, MaxLinesPerMinute: -1, Secrets: &secrets})
			for b := []byte(tt.line); len(b) > 0; { // odd chunks, as a pipe delivers them
				n := min(7, len(b))
				p.Write(b[:n])
				b = b[n:]
			}
			p.Close()
			msgs := h.msgs()
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "xxxx") || !strings.Contains(msgs[0], " bytes cut]") {
				t.Fatalf("records %q; want the one line, cut", msgs)
			}
			for _, out := range append(msgs, p.Tail()...) {
				if piece, ok := leaks(out, tt.secret); ok {
					t.Errorf("%q of the secret reached the output: %q", piece, out)
				}
			}
		})
	}
}

// leaks reports an 8-byte piece of secret found in out.
func leaks(out, secret string) (string, bool) {
	for i := 0; i+redact.MinLen <= len(secret); i++ {
		if piece := secret[i : i+redact.MinLen]; strings.Contains(out, piece) {
			return piece, true
		}
	}
	return "", false
}

func TestPipeSecrets(t *testing.T) {
	var secrets redact.Set
	p, h, _ := newTestPipe(Options{Secrets: &secrets, KeepTail: 5})
	p.Write([]byte("before update " + testToken + "\n"))
	secrets.Update(testToken, testAPIKey) // as the daemon does before each gateway start
	for range 3 {                         // repeats collapse into a summary with an example
		p.Write([]byte("retrying with key " + testAPIKey + " and #token=" + testToken + "\n"))
	}
	p.Close()
	msgs := h.msgs()
	if len(msgs) < 2 || !strings.Contains(msgs[0], testToken) {
		t.Fatalf("records %q; want the first line as it was", msgs)
	}
	var summary bool
	for _, m := range msgs[1:] {
		if strings.Contains(m, "repeated") {
			summary = true
		}
		if !strings.Contains(m, "key [redacted] and #token=[redacted]") {
			t.Errorf("record %q; want both secrets redacted", m)
		}
	}
	if !summary {
		t.Errorf("records %q; want a repeat summary", msgs)
	}
	for _, l := range p.Tail()[1:] {
		if strings.Contains(l, testAPIKey) || strings.Contains(l, testToken) {
			t.Errorf("tail keeps a secret: %q", l)
		}
	}
}

func TestPipeRedactRunsBeforeTruncation(t *testing.T) {
	h := &recHandler{}
	p := New(Options{Logger: slog.New(h), MaxLineBytes: 100, Redact: func(s string) string {
		return strings.ReplaceAll(s, testToken, "[redacted]")
	}})
	p.Write([]byte(strings.Repeat("x", 60) + testToken + strings.Repeat("y", 50) + "\n"))
	p.Close()
	if msgs := h.msgs(); len(msgs) != 1 || msgs[0] != strings.Repeat("x", 60)+"[redacted]"+strings.Repeat("y", 30)+" …[20 bytes cut]" {
		t.Fatalf("records %q; want the token redacted, then the line cut", msgs)
	}
}
