package embedcaddy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func validACME() Options {
	return Options{
		Mode: ModeACME, Domains: []string{"claw.example.com"}, Email: "ops@example.com",
		GatewayPort: 18789, StorageDir: "/var/lib/openclawd/caddy",
	}
}

func TestValidate(t *testing.T) {
	with := func(f func(*Options)) Options {
		o := validACME()
		f(&o)
		return o
	}
	tests := []struct {
		name string
		o    Options
		want []string // substrings of the error; none means valid
	}{
		{"acme ok", validACME(), nil},
		{"zero is off", Options{}, nil},
		{"off ignores the rest", Options{Mode: ModeOff, HTTPPort: -1}, nil},
		{"internal ip ok", with(func(o *Options) { o.Mode, o.Email, o.Domains = ModeInternal, "", []string{"192.0.2.7", "localhost"} }), nil},
		{"bad mode", with(func(o *Options) { o.Mode = "https" }), []string{"tls.mode", `"https"`}},
		{"no domain", with(func(o *Options) { o.Domains = nil }), []string{"tls.domain: required"}},
		{"url not name", with(func(o *Options) { o.Domains = []string{"https://claw.example.com"} }), []string{"tls.domain", "not a DNS name"}},
		{"port in name", with(func(o *Options) { o.Domains = []string{"claw.example.com:443"} }), []string{"not a DNS name"}},
		{"trailing dot", with(func(o *Options) { o.Domains = []string{"claw.example.com."} }), []string{"not a DNS name"}},
		{"bad label", with(func(o *Options) { o.Domains = []string{"-claw.example.com"} }), []string{"not a DNS name"}},
		{"duplicate", with(func(o *Options) { o.Domains = []string{"a.example.com", "A.example.com"} }), []string{"listed twice"}},
		{"wildcard", with(func(o *Options) { o.Domains = []string{"*.example.com"} }), []string{"wildcard", "DNS-01"}},
		{"ip for acme", with(func(o *Options) { o.Domains = []string{"203.0.113.9"} }), []string{"tls.domain", "IP address", "tls.mode internal"}},
		{"localhost for acme", with(func(o *Options) { o.Domains = []string{"localhost"} }), []string{"not publicly resolvable"}},
		{"no email", with(func(o *Options) { o.Email = "" }), []string{"tls.email: required"}},
		{"bad email", with(func(o *Options) { o.Email = "ops" }), []string{"tls.email", "not an e-mail"}},
		{"http ca", with(func(o *Options) { o.ACMECA = "http://ca/dir" }), []string{"tls.acme_ca"}},
		{"relative ca root", with(func(o *Options) { o.ACMECARoot = "root.pem" }), []string{"tls.acme_ca_root"}},
		{"no challenge", with(func(o *Options) { o.DisableHTTPChallenge, o.DisableTLSALPN = true, true }), []string{"both ACME challenges"}},
		{"http port range", with(func(o *Options) { o.HTTPPort = 70000 }), []string{"tls.http_port", "70000"}},
		{"https port range", with(func(o *Options) { o.HTTPSPort = -2 }), []string{"tls.https_port"}},
		{"same ports", with(func(o *Options) { o.HTTPPort, o.HTTPSPort = 8443, 8443 }), []string{"tls.https_port", "also tls.http_port"}},
		{"gateway port missing", with(func(o *Options) { o.GatewayPort = 0 }), []string{"gateway.port"}},
		{"gateway on 443", with(func(o *Options) { o.GatewayPort = 443 }), []string{"gateway.port", "collides"}},
		{"listen host", with(func(o *Options) { o.ListenHost = "eth0" }), []string{"tls.listen"}},
		{"relative storage", with(func(o *Options) { o.StorageDir = "caddy" }), []string{"state_dir"}},
		{"all at once", Options{Mode: ModeACME, HTTPPort: 99999}, []string{"tls.domain", "tls.email", "tls.http_port", "gateway.port", "state_dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConfigJSONGolden(t *testing.T) {
	internal := validACME()
	internal.Mode, internal.Email, internal.Domains = ModeInternal, "", []string{"claw.internal", "192.0.2.7"}
	test := validACME()
	test.ACMECA, test.ACMECARoot = "https://127.0.0.1:14000/dir", "/tmp/pebble.minica.pem"
	test.HTTPPort, test.HTTPSPort, test.ListenHost, test.DisableTLSALPN = 5002, 5001, "127.0.0.1", true
	for name, o := range map[string]Options{
		"acme":      validACME(),
		"acme_test": test,
		"internal":  internal,
		"off":       {Mode: ModeOff},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ConfigJSON(o)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("ConfigJSON(%s) differs from %s (go test -update rewrites it):\n%s", name, path, got)
			}
		})
	}
	if _, err := ConfigJSON(Options{Mode: ModeACME}); err == nil {
		t.Error("ConfigJSON accepted invalid options")
	}
}
