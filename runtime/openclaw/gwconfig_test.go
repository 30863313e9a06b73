package openclaw

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/internal/json5"
)

func TestWriteConfig(t *testing.T) {
	owned := Owned{Port: 18790, LogFile: "/var/lib/openclawd/logs/gateway.log"}
	tests := []struct {
		name      string
		existing  string // "" = no file
		wantKeep  map[string]string
		wantToken bool
		wantErr   string
	}{
		{name: "fresh file"},
		{name: "keeps user and gateway keys", existing: `// mine
{
  agents: { defaults: { model: { primary: 'openai/gpt-6-astra' } } },
  gateway: { port: 1, bind: 'lan', controlUi: { allowedOrigins: ['https://bot.example'] }, },
  meta: { lastTouchedVersion: "2026.9.6" },
}`, wantKeep: map[string]string{"agents.defaults.model.primary": "openai/gpt-6-astra", "meta.lastTouchedVersion": "2026.9.6"}},
		{name: "drops a token from the file", existing: `{gateway:{auth:{mode:"password",token:"abc"}}}`, wantToken: true},
		{name: "broken file is left alone", existing: "{gateway: {port: }", wantErr: "line 1, column"},
		{name: "not an object", existing: "[1]", wantErr: "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "openclaw.json")
			if tt.existing != "" {
				os.WriteFile(p, []byte(tt.existing), 0o644)
			}
			ch, err := WriteConfig(p, owned)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				if b, _ := os.ReadFile(p); string(b) != tt.existing {
					t.Error("a broken file was rewritten")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ch.Written || ch.RemovedToken != tt.wantToken {
				t.Errorf("change %+v; want written, removed token %v", ch, tt.wantToken)
			}
			b, _ := os.ReadFile(p)
			v, err := json5.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"gateway.mode": "local", "gateway.bind": "loopback", "gateway.auth.mode": "token",
				"logging.file": owned.LogFile}
			for k, w := range want {
				got, _ := v.Get(strings.Split(k, ".")...)
				if s, _ := got.String(); s != w {
					t.Errorf("%s = %q; want %q", k, s, w)
				}
			}
			if port, _ := v.Get("gateway", "port"); port == nil {
				t.Error("gateway.port missing")
			} else if n, _ := port.Int(); n != 18790 {
				t.Errorf("gateway.port = %d", n)
			}
			if _, ok := v.Get("gateway", "auth", "token"); ok {
				t.Error("token left in the file")
			}
			if tp, _ := v.Get("gateway", "trustedProxies"); len(tp.Elems()) != 2 {
				t.Error("trustedProxies not set")
			}
			if cs, _ := v.Get("update", "checkOnStart"); cs == nil {
				t.Error("update.checkOnStart not set")
			}
			for k, w := range tt.wantKeep {
				got, _ := v.Get(strings.Split(k, ".")...)
				if s, _ := got.String(); s != w {
					t.Errorf("user key %s = %q; want %q kept", k, s, w)
				}
			}
			if tt.existing != "" && strings.Contains(tt.existing, "allowedOrigins") {
				if o, ok := v.Get("gateway", "controlUi", "allowedOrigins"); !ok || len(o.Elems()) != 1 {
					t.Error("gateway.controlUi.allowedOrigins lost")
				}
			}
			fi, _ := os.Stat(p)
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v; want 0600", fi.Mode().Perm())
			}
			// A second write with the same values changes nothing on disk.
			ch, err = WriteConfig(p, owned)
			if err != nil || ch.Written {
				t.Errorf("rewrite of an up-to-date file: %+v, %v", ch, err)
			}
		})
	}
}

func TestTerminalSetting(t *testing.T) {
	tests := []struct {
		name, mode, tlsMode string
		want                *bool
	}{
		{"auto with acme is off", "auto", "acme", boolPtr(false)},
		{"auto with internal is off", "auto", "internal", boolPtr(false)},
		{"auto without tls leaves it", "auto", "off", nil},
		{"empty mode is auto", "", "acme", boolPtr(false)},
		{"empty everything leaves it", "", "", nil},
		{"on with acme", "on", "acme", boolPtr(true)},
		{"on without tls", "on", "off", boolPtr(true)},
		{"off without tls", "off", "off", boolPtr(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TerminalSetting(tt.mode, tt.tlsMode)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("TerminalSetting(%q, %q) = %v; want %v", tt.mode, tt.tlsMode, show(got), show(tt.want))
			}
		})
	}
}

func TestWriteConfigTerminal(t *testing.T) {
	tests := []struct {
		name     string
		existing string // "" = no file
		terminal *bool
		want     *bool // gateway.terminal.enabled afterwards; nil = absent
	}{
		{name: "nil leaves it absent", terminal: nil, want: nil},
		{name: "nil keeps the user's true", existing: `{gateway:{terminal:{enabled:true}}}`, want: boolPtr(true)},
		{name: "nil keeps the user's false", existing: `{gateway:{terminal:{enabled:false}}}`, want: boolPtr(false)},
		{name: "off on a fresh file", terminal: boolPtr(false), want: boolPtr(false)},
		{name: "off overrides the user's true", existing: `{gateway:{terminal:{enabled:true,shell:"/bin/zsh"}}}`, terminal: boolPtr(false), want: boolPtr(false)},
		{name: "on overrides false", existing: `{gateway:{terminal:{enabled:false}}}`, terminal: boolPtr(true), want: boolPtr(true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "openclaw.json")
			if tt.existing != "" {
				os.WriteFile(p, []byte(tt.existing), 0o600)
			}
			o := Owned{Port: 18790, Terminal: tt.terminal}
			if _, err := WriteConfig(p, o); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			v, err := json5.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			var got *bool
			if e, ok := v.Get("gateway", "terminal", "enabled"); ok {
				b, isBool := e.Bool()
				if !isBool {
					t.Fatalf("gateway.terminal.enabled is a %s", e.Kind())
				}
				got = &b
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("gateway.terminal.enabled = %v; want %v\n%s", show(got), show(tt.want), b)
			}
			if strings.Contains(tt.existing, "shell") && !strings.Contains(string(b), "/bin/zsh") {
				t.Errorf("gateway.terminal.shell lost:\n%s", b)
			}
			if ch, err := WriteConfig(p, o); err != nil || ch.Written {
				t.Errorf("rewrite of an up-to-date file: %+v, %v", ch, err)
			}
		})
	}
}

func boolPtr(v bool) *bool { return &v }

func show(b *bool) string {
	if b == nil {
		return "unset"
	}
	return strconv.FormatBool(*b)
}
