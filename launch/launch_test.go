package launch

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
)

func envMap(list []string) map[string]string {
	m := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func testConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.StateDir = "/var/lib/ocd-test"
	cfg.User = "root" // the tests run as root; CheckUser is tested apart
	if os.Geteuid() != 0 {
		t.Skip("tests the root case")
	}
	return cfg
}

func TestGateway(t *testing.T) {
	cfg := testConfig(t)
	cfg.Gateway.Env = map[string]string{"EXTRA": "x"}
	cfg.Backup.Targets = []config.BackupTarget{{Name: "offsite", Type: "s3", AccessKeyEnv: "AWS_ACCESS_KEY_ID", SecretKeyEnv: "AWS_SECRET_ACCESS_KEY"}}
	t.Setenv("INVOCATION_ID", "abc") // systemd's marker must not leak (§7)
	t.Setenv("LANG", "C.UTF-8")
	rt := &provision.Runtime{Node: node.Install{Dir: "/rt/node"}, Openclaw: openclaw.Install{Dir: "/rt/oc"}}
	spec, err := Gateway(Input{Config: cfg, Runtime: rt, Token: "tok", FileEnv: map[string]string{
		"OPENAI_API_KEY": "sk", "PATH": "/evil", "HOME": "/evil", "TMPDIR": "/evil", "OPENCLAW_STATE_DIR": "/evil",
		"OPENCLAW_CONFIG_PATH": "/evil", "NODE_OPTIONS": "--require /evil", "OPENCLAW_GATEWAY_PORT": "1",
		// Backup credentials are openclawd's, not the agent's.
		"OPENCLAWD_S3_SECRET_ACCESS_KEY": "s3", "AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk3",
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{{"--bind", "loopback"}, {"--tailscale", "off"}, {"--port", "18789"}} {
		if i := slices.Index(spec.Argv, want[0]); i < 0 || i+1 >= len(spec.Argv) || spec.Argv[i+1] != want[1] {
			t.Errorf("argv %v lacks %v", spec.Argv, want)
		}
	}
	if spec.Argv[0] != "/rt/node/bin/node" || !strings.HasPrefix(spec.Argv[1], "--max-old-space-size=") {
		t.Errorf("argv %v: want the pinned node by absolute path and a heap size", spec.Argv)
	}
	env := envMap(spec.Env)
	tests := []struct{ key, want string }{
		{"OPENAI_API_KEY", "sk"},
		{"EXTRA", "x"},
		{"LANG", "C.UTF-8"},
		{"PATH", "/rt/node/bin:" + systemPath},
		{"HOME", "/var/lib/ocd-test/home"},
		{"TMPDIR", "/var/lib/ocd-test/tmp/gateway"},
		{"OPENCLAW_STATE_DIR", "/var/lib/ocd-test/openclaw"},
		{"OPENCLAW_GATEWAY_PORT", "18789"},
		{"OPENCLAW_GATEWAY_TOKEN", "tok"},
		{"OPENCLAW_SUPERVISOR_MODE", "external"},
		{"OPENCLAW_CONFIG_PATH", ""},
		{"NODE_OPTIONS", ""},
		{"INVOCATION_ID", ""},
		{"OPENCLAWD_S3_SECRET_ACCESS_KEY", ""},
		{"AWS_ACCESS_KEY_ID", ""},
		{"AWS_SECRET_ACCESS_KEY", ""},
	}
	for _, tt := range tests {
		if got := env[tt.key]; got != tt.want {
			t.Errorf("%s=%q; want %q", tt.key, got, tt.want)
		}
	}
	if spec.Dir != "/var/lib/ocd-test/home" {
		t.Errorf("dir %s", spec.Dir)
	}
}

func TestCLIMatchesGateway(t *testing.T) {
	cfg := testConfig(t)
	t.Setenv("TERM", "xterm")
	rt := &provision.Runtime{Node: node.Install{Dir: "/rt/node"}, Openclaw: openclaw.Install{Dir: "/rt/oc"}}
	in := Input{Config: cfg, Runtime: rt, Token: "tok", FileEnv: map[string]string{"K": "v"}}
	gw, _ := Gateway(in)
	cli, err := CLI(in, []string{"devices", "list"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/rt/node/bin/node", rt.Openclaw.Launcher(), "devices", "list"}; !slices.Equal(cli.Argv, want) {
		t.Errorf("argv %v; want %v", cli.Argv, want)
	}
	g, c := envMap(gw.Env), envMap(cli.Env)
	for _, k := range []string{"OPENCLAW_STATE_DIR", "OPENCLAW_GATEWAY_PORT", "OPENCLAW_GATEWAY_TOKEN", "TMPDIR", "HOME", "K"} {
		if g[k] != c[k] {
			t.Errorf("%s: gateway %q, CLI %q", k, g[k], c[k])
		}
	}
	if c["TERM"] != "xterm" || g["TERM"] != "" {
		t.Errorf("TERM: CLI %q gateway %q; want only the CLI to get it", c["TERM"], g["TERM"])
	}
}

func TestCheckUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the refusal is about root")
	}
	tests := []struct {
		name, user string
		ok         bool
	}{
		{"service user configured, running as root", "openclawd", false},
		{"root explicitly", "root", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.User = tt.user
			cfg.Gateway.Command = []string{"/bin/true"}
			_, err := Gateway(Input{Config: cfg, Token: "t"})
			if (err == nil) != tt.ok {
				t.Fatalf("Gateway as root with user %q: %v; want ok=%v", tt.user, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "user: root") {
				t.Errorf("error %q does not say how to accept it", err)
			}
		})
	}
}
