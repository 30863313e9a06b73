package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, all required
	}{
		{"unknown top key", "stat_dir: /x\n", []string{"test.yaml:1: stat_dir: unknown key", `did you mean "state_dir"`}},
		{"unknown nested key", "gateway:\n  port: 1\n  bogus: 2\n", []string{"test.yaml:3: gateway.bogus: unknown key", "known keys under gateway:"}},
		{"wrong type", "gateway:\n  port: notaport\n", []string{"test.yaml:2: gateway.port:", `"notaport" is not a valid number`}},
		{"duration without unit", "health:\n  interval: 10\n", []string{"test.yaml:2: health.interval: 10 has no unit", "10s"}},
		{"bad duration", "health:\n  timeout: 5x\n", []string{"test.yaml:2: health.timeout:", "not a valid duration"}},
		{"syntax", "gateway:\n  port: [1\n", []string{"test.yaml:", "invalid YAML"}},
		{"command not a list", "gateway:\n  command: node\n", []string{"test.yaml:2: gateway.command:", "list of strings"}},
		{"unknown key in a list item", "backup:\n  targets:\n    - name: x\n      bukket: b\n", []string{"test.yaml:4: backup.targets[0].bukket: unknown key", `did you mean "backup.targets[0].bucket"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse succeeded; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // "" = valid
	}{
		{"empty file is all defaults", "", ""},
		{"example values", "state_dir: /tmp/s\ngateway:\n  port: 18790\n  command: [/bin/gw, run]\n  env: {FOO: bar}\n", ""},
		{"port out of range", "gateway:\n  port: 70000\n", "test.yaml:2: gateway.port: 70000 is not a TCP port"},
		{"relative state dir", "state_dir: var/lib\n", "test.yaml:1: state_dir: \"var/lib\" is not an absolute path"},
		{"reserved env", "gateway:\n  env:\n    OPENCLAW_GATEWAY_TOKEN: x\n", "test.yaml:3: gateway.env.OPENCLAW_GATEWAY_TOKEN: OPENCLAW_GATEWAY_TOKEN is set by openclawd"},
		{"marker env", "gateway:\n  env:\n    INVOCATION_ID: x\n", "service-manager marker"},
		{"bad env name", "gateway:\n  env:\n    1X: y\n", "not a valid environment variable name"},
		{"max below min", "restart:\n  min_delay: 10s\n  max_delay: 1s\n", "test.yaml:3: restart.max_delay: 1s is below restart.min_delay"},
		{"zero failures", "health:\n  failures: 0\n", "test.yaml:2: health.failures: 0 must be at least 1"},
		{"negative timeout", "health:\n  timeout: -1s\n", "health.timeout: -1s must be a positive duration"},
		{"node version without checksum", "node:\n  version: 24.22.0\n", "test.yaml:2: node.version: an overridden version needs node.sha256"},
		{"node version with checksum", "node:\n  version: 24.22.0\n  sha256: " + strings.Repeat("ab", 32) + "\n", ""},
		{"bad node checksum", "node:\n  sha256: xyz\n", "node.sha256: \"xyz\" is not 64 hex digits"},
		{"bad mirror", "node:\n  mirror: ftp://x\n", "node.mirror: \"ftp://x\" is not an http(s):// or file:// URL"},
		{"openclaw version without integrity", "openclaw:\n  version: 2026.10.1\n", "openclaw.version: an overridden version needs openclaw.integrity"},
		{"tiny heap", "node:\n  max_old_space_mb: 64\n", "node.max_old_space_mb: 64 MB is too small"},
		{"relative socket", "control:\n  socket: x.sock\n", "control.socket: \"x.sock\" is not an absolute path"},
		{"backups too often", "backup:\n  every: 10m\n", "test.yaml:2: backup.every: 10m0s is too often"},
		{"backups off", "backup:\n  every: 0s\n", ""},
		{"negative keep", "backup:\n  keep:\n    weekly: -1\n", "test.yaml:3: backup.keep.weekly: -1 must be 0 or more"},
		{"bad recipient", "backup:\n  recipients: [AGE-SECRET-KEY-1XYZ]\n", "backup.recipients[0]: \"AGE-SECRET-KEY-1XYZ\" is not an age public key"},
		{"s3 without recipients", "backup:\n  targets:\n    - {name: offsite, type: s3, endpoint: https://s3.example.net, bucket: b}\n", "test.yaml:3: backup.targets[0]: copies to s3 are encrypted: add backup.recipients"},
		{"s3 ok", "backup:\n  recipients: [age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq]\n  targets:\n    - {name: offsite, type: s3, endpoint: https://s3.example.net, bucket: b}\n", ""},
		{"s3 bad endpoint", "backup:\n  recipients: [age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq]\n  targets:\n    - name: offsite\n      type: s3\n      endpoint: s3.example.net\n      bucket: b\n", "test.yaml:6: backup.targets[0].endpoint: \"s3.example.net\" is not an http(s):// URL"},
		{"dir inside state", "backup:\n  targets:\n    - {name: usb, type: dir, path: /var/lib/openclawd/copies}\n", "is inside state_dir; a copy there is lost with it"},
		{"duplicate target", "backup:\n  targets:\n    - {name: usb, type: dir, path: /mnt/a}\n    - {name: usb, type: dir, path: /mnt/b}\n", "test.yaml:4: backup.targets[1].name: \"usb\" names two targets"},
		{"unknown target type", "backup:\n  targets:\n    - {name: x, type: ftp}\n", "backup.targets[0].type: \"ftp\" is not dir or s3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDefaultsAndOverrides(t *testing.T) {
	c, err := Parse("t.yaml", []byte("health:\n  interval: 2s\n  deep: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Health.Interval != 2*time.Second || c.Health.DeepProbe() {
		t.Errorf("overrides not applied: %+v", c.Health)
	}
	if c.Health.Timeout != Default().Health.Timeout || c.Gateway.Port != 18789 {
		t.Errorf("defaults lost: %+v %+v", c.Health, c.Gateway)
	}
}

// The example file in the repository must stay valid and equal to the defaults.
func TestExampleFileMatchesDefaults(t *testing.T) {
	c, err := Load(filepath.Join("..", "openclawd.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.Path, d.lines = c.Path, c.lines
	if !reflect.DeepEqual(c, d) {
		t.Errorf("openclawd.example.yaml differs from Default():\n got %+v\nwant %+v", *c, *d)
	}
}

func TestEnvFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    map[string]string
		wantErr string
	}{
		{"plain", "# keys\nA=1\nexport B = two\nC=\"x y\\n\"\nD='q'\n", 0o600, map[string]string{"A": "1", "B": "two", "C": "x y\n", "D": "q"}, ""},
		{"world readable", "A=1\n", 0o644, nil, "is mode 0644, readable by others; it holds secrets: run chmod 600"},
		{"group readable", "A=1\n", 0o640, nil, "chmod 600"},
		{"no equals", "A=1\nsk-secretvaluewithoutkey\n", 0o600, nil, ":2: \"sk-secretval…\" is not KEY=VALUE"},
		{"marker", "INVOCATION_ID=1\n", 0o600, nil, ":1: INVOCATION_ID is a service-manager marker"},
		{"reserved", "A=1\nOPENCLAW_SUPERVISOR_MODE=\n", 0o600, nil, ":2: OPENCLAW_SUPERVISOR_MODE is set by openclawd"},
		{"token allowed", "OPENCLAW_GATEWAY_TOKEN=" + strings.Repeat("x", 30) + "\n", 0o600, map[string]string{"OPENCLAW_GATEWAY_TOKEN": strings.Repeat("x", 30)}, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "env"+string(rune('a'+i)))
			if err := os.WriteFile(p, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tt.mode)
			got, err := ReadEnvFile(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "withoutkey") {
					t.Errorf("error leaks the whole line: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q; want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestGatewayToken(t *testing.T) {
	c := Default()
	c.StateDir = t.TempDir()
	tok, src, err := c.GatewayToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 64 || src != c.TokenFile() {
		t.Fatalf("token len %d from %s; want 64 hex chars from %s", len(tok), src, c.TokenFile())
	}
	for p, want := range map[string]os.FileMode{c.TokenFile(): 0o600, c.Layout().Secrets(): 0o700} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, err %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	again, _, err := c.GatewayToken(nil)
	if err != nil || again != tok {
		t.Errorf("second call gave a different token (err %v)", err)
	}
	fromEnv := strings.Repeat("ab", 16)
	if got, _, _ := c.GatewayToken(map[string]string{"OPENCLAW_GATEWAY_TOKEN": fromEnv}); got != fromEnv {
		t.Errorf("env file token not preferred")
	}
	if _, _, err := c.GatewayToken(map[string]string{"OPENCLAW_GATEWAY_TOKEN": "changeme"}); err == nil || !strings.Contains(err.Error(), "at least 24") {
		t.Errorf("short token accepted: %v", err)
	}
	os.Chmod(c.TokenFile(), 0o644)
	if _, _, err := c.GatewayToken(nil); err == nil || !strings.Contains(err.Error(), "run chmod 600") {
		t.Errorf("world-readable token file accepted: %v", err)
	}
}

func TestDomainScalarOrList(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Names
		err  string
	}{
		{"scalar is a one-name list", "tls:\n  mode: acme\n  domain: bot.example.com\n  email: a@example.com\n", Names{"bot.example.com"}, ""},
		{"flow list", "tls:\n  mode: acme\n  domain: [a.example.com, b.example.com]\n  email: a@example.com\n", Names{"a.example.com", "b.example.com"}, ""},
		{"block list", "tls:\n  mode: internal\n  domain:\n    - a.example.com\n", Names{"a.example.com"}, ""},
		{"absent", "tls:\n  mode: off\n", nil, ""},
		{"a mapping is refused with the key and line", "tls:\n  mode: acme\n  domain:\n    name: x\n", nil, "test.yaml:4: tls.domain: write one name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.TLS.Domain, tt.want) {
				t.Errorf("domain = %#v, want %#v", c.TLS.Domain, tt.want)
			}
		})
	}
}

func TestMemoryBound(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name, value string
		service     int64
		want        int64
		err         string
	}{
		{"auto on a 1 GB host is 1.5 GB", "auto", 961 * mb, 1536 * mb, ""},
		{"auto on 8 GB is three quarters", "auto", 8192 * mb, 6144 * mb, ""},
		{"a size", "1500MB", 0, 1500 * mb, ""},
		{"gigabytes", "1.5GB", 0, 1536 * mb, ""},
		{"off", "off", 8192 * mb, 0, ""},
		{"not a size", "lots", 0, 0, "memory.restart_above: \"lots\" is not a size"},
		{"too small", "100MB", 0, 0, "is below 256MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.yaml", []byte("memory:\n  restart_above: "+tt.value+"\n"))
			if err == nil {
				err = c.Validate()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "test.yaml:2") {
					t.Fatalf("err = %v; want one at test.yaml:2 containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Memory.RestartAboveBytes(tt.service); got != tt.want {
				t.Errorf("bound = %d MB, want %d MB", got/mb, tt.want/mb)
			}
		})
	}
}
