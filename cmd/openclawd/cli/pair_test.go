package cli

import (
	"strings"
	"testing"
	"time"
)

func TestRewriteOrigin(t *testing.T) {
	const link = "http://127.0.0.1:18789/#bootstrapToken=abc-DEF_1&bootstrapProfile=control-ui-owner&gatewayUrl=ws%3A%2F%2F127.0.0.1%3A18789"
	tests := []struct {
		name, link, origin, want, err string
	}{
		{name: "default port", link: link, origin: "https://claw.example.com",
			want: "https://claw.example.com/#bootstrapToken=abc-DEF_1&bootstrapProfile=control-ui-owner&gatewayUrl=wss%3A%2F%2Fclaw.example.com"},
		{name: "custom port", link: link, origin: "https://claw.example.com:8443",
			want: "https://claw.example.com:8443/#bootstrapToken=abc-DEF_1&bootstrapProfile=control-ui-owner&gatewayUrl=wss%3A%2F%2Fclaw.example.com%3A8443"},
		{name: "base path kept", link: "http://127.0.0.1:18789/ui/#bootstrapToken=t&gatewayUrl=ws%3A%2F%2F127.0.0.1%3A18789%2Fui", origin: "https://h.example.com",
			want: "https://h.example.com/ui/#bootstrapToken=t&gatewayUrl=wss%3A%2F%2Fh.example.com%2Fui"},
		{name: "no bootstrap token", link: "http://127.0.0.1:18789/#token=secret", origin: "https://h.example.com", err: "no bootstrap token"},
		{name: "bad origin", link: link, origin: "h.example.com", err: "parsing origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rewriteOrigin(tc.link, tc.origin)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
}

func TestParseHandoff(t *testing.T) {
	tests := []struct {
		name, out, link, err string
		exp                  int64
	}{
		{name: "ok, gateway token not kept",
			out:  `{"ok":true,"url":"http://127.0.0.1:18789/#token=SECRET","browserUrl":"http://127.0.0.1:18789/#bootstrapToken=b","browserBootstrapExpiresAtMs":1796000000000}`,
			link: "http://127.0.0.1:18789/#bootstrapToken=b", exp: 1796000000000},
		{name: "log line first",
			out:  "Config warnings: x\n{\n  \"ok\": true,\n  \"browserUrl\": \"http://x/#bootstrapToken=b\",\n  \"browserBootstrapExpiresAtMs\": 5\n}\n",
			link: "http://x/#bootstrapToken=b", exp: 5},
		{name: "gateway down", out: `{"ok":false,"reason":"Gateway is not running."}`, err: "Gateway is not running."},
		{name: "no json", out: "boom\n", err: "no JSON"},
		{name: "no link", out: `{"ok":true}`, err: "lacks browserUrl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseHandoff([]byte(tc.out))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil || h.BrowserURL != tc.link || !h.ExpiresAt.Equal(time.UnixMilli(tc.exp)) {
				t.Fatalf("got %+v, %v", h, err)
			}
			if strings.Contains(h.BrowserURL, "SECRET") {
				t.Fatal("the gateway token leaked into the link")
			}
		})
	}
}

func TestCheckLink(t *testing.T) {
	tests := []struct {
		name, link, err string
	}{
		{"single-use", "http://127.0.0.1:1/#bootstrapToken=abc&gatewayUrl=ws%3A%2F%2F127.0.0.1%3A1", ""},
		{"the gateway token", "http://127.0.0.1:1/#token=s3cret", "carries the gateway token"},
		{"both", "http://127.0.0.1:1/#bootstrapToken=abc&token=s3cret", "carries the gateway token"},
		{"neither", "http://127.0.0.1:1/", "no bootstrap token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLink(tt.link)
			if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("checkLink = %v, want %q", err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
