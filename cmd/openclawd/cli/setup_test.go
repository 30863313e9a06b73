package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/fakegateway"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
)

// setupEnv is a config for a fresh openclawd whose gateway is the fake,
// in a short temporary directory (unix socket paths are limited).
type setupEnv struct {
	dir, cfg, envFile string
	port              int
}

const setupConfig = `# A hand-written comment: setup must keep it.
state_dir: %[1]s/state

gateway:
  port: %[2]d   # loopback only
  command: [%[3]q, "gateway", "run", "--bind", "loopback"]
  env:
    FAKE_GATEWAY_MODE_FILE: %[1]s/mode
    FAKE_GATEWAY_STARTUP_MS: "100"
    FAKE_GATEWAY_TICK_MS: "200"
  stop_timeout: 5s

restart: {min_delay: 200ms, max_delay: 1s}

health:
  startup_timeout: 20s
  startup_interval: 50ms
  interval: 150ms
  timeout: 300ms
  deep_interval: 500ms
  kill_timeout: 1s

control:
  socket: %[1]s/ctl.sock
  group: ""

# HTTPS
tls:
  mode: "off"
  domain: []
  email: ""
`

func newSetupEnv(t *testing.T, fake string) setupEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port, err := fakegateway.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	e := setupEnv{dir: dir, cfg: filepath.Join(dir, "openclawd.yaml"), envFile: filepath.Join(dir, "gateway.env"), port: port}
	if fake == "" {
		fake = "/nonexistent/fakegateway"
	}
	if err := os.WriteFile(e.cfg, []byte(fmt.Sprintf(setupConfig, dir, port, fake)), 0o640); err != nil {
		t.Fatal(err)
	}
	e.setMode(t, "normal")
	return e
}

func (e setupEnv) setMode(t *testing.T, mode string) {
	if err := os.WriteFile(filepath.Join(e.dir, "mode"), []byte(mode+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func buildFake(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := fakegateway.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// runSetup runs setup with stdin and the start hook; files stay the
// caller's (user root).
func runSetup(t *testing.T, stdin string, start func(context.Context, *config.Config) error, args ...string) (rc int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	o := newTestSetup(t, args, strings.NewReader(stdin), &out, &errb)
	if start != nil {
		o.start = start
	}
	rc = o.run(context.Background())
	return rc, out.String(), errb.String()
}

// newTestSetup parses args as the command does, then swaps the terminal
// for stdin and keeps files the caller's (user root).
func newTestSetup(t *testing.T, args []string, stdin *strings.Reader, out, errb *bytes.Buffer) *setup {
	t.Helper()
	o, rc := newSetup(args, out, errb)
	if o == nil {
		t.Fatalf("parsing %v: rc %d: %s", args, rc, errb)
	}
	o.in, o.tty, o.user, o.poll = bufio.NewReader(stdin), false, "root", 50*time.Millisecond
	o.doctor = nil // the test binary is not openclawd
	return o
}

// daemonStarter runs a real openclawd (daemon.Run) in this process, as
// the service manager would; it counts the starts.
func daemonStarter(t *testing.T) (func(context.Context, *config.Config) error, *atomic.Int32) {
	var n atomic.Int32
	return func(_ context.Context, c *config.Config) error {
		n.Add(1)
		cfg, err := config.Load(c.Path)
		if err != nil {
			return err
		}
		// The daemon runs in this process, as whoever runs the test; as
		// root, only with user: root said explicitly (launch.CheckUser).
		if os.Geteuid() == 0 {
			cfg.User = "root"
		}
		ctx, cancel := context.WithCancel(context.Background())
		logs := &fgtest.SyncBuffer{}
		done := make(chan error, 1)
		go func() { done <- daemon.Run(ctx, cfg, logs) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil || t.Failed() {
				t.Logf("daemon: %v\n%s", err, logs)
			}
		})
		return nil
	}, &n
}

type fileState struct {
	data  []byte
	mtime time.Time
	mode  os.FileMode
}

func snapshot(t *testing.T, paths ...string) map[string]fileState {
	m := map[string]fileState{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%v", err)
		}
		b, _ := os.ReadFile(p)
		m[p] = fileState{b, fi.ModTime(), fi.Mode()}
	}
	return m
}

// TestSetupRefuses: bad input is named (the flag, or file:line) and
// nothing is written.
func TestSetupRefuses(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"acme without a domain", "", []string{"--tls", "acme", "--email", "a@b.example"}, "--domain is required with --tls acme"},
		{"acme without an email", "", []string{"--tls", "acme", "--domain", "claw.example.com"}, "--email is required with --tls acme"},
		{"internal without a domain", "", []string{"--tls", "internal"}, "--domain is required with --tls internal"},
		{"unknown tls mode", "", []string{"--tls", "on"}, `--tls: "on" is not off, acme or internal`},
		{"a value on the command line", "", []string{"--env", "OPENAI_API_KEY=sk-argv-secret"}, "--env takes only a variable name"},
		{"a named variable missing on stdin", "OTHER=1\n", []string{"--env", "OPENAI_API_KEY"}, "stdin sets OTHER, which no --env names"},
		{"no stdin line", "", []string{"--env", "OPENAI_API_KEY"}, "--env OPENAI_API_KEY: no OPENAI_API_KEY=… line on stdin"},
		{"an empty value", "OPENAI_API_KEY=\n", []string{"--env", "OPENAI_API_KEY"}, "--env OPENAI_API_KEY: the value on stdin is empty"},
		{"a line that is not NAME=VALUE", "sk-lone-secret\n", []string{"--env", "OPENAI_API_KEY"}, "stdin line 1 is not NAME=VALUE"},
		{"a variable openclawd sets", "", []string{"--env", "OPENCLAW_GATEWAY_PORT"}, "--env OPENCLAW_GATEWAY_PORT: OPENCLAW_GATEWAY_PORT is set by openclawd"},
		{"a bad domain, with file:line and flag", "", []string{"--tls", "internal", "--domain", "bad_name!"},
			"openclawd.yaml:30: tls.domain: "},
		{"a missing CA root", "", []string{"--acme-ca-root", "/nonexistent/root.pem"}, "--acme-ca-root: "},
		{"a CA root that is no certificate", "", []string{"--acme-ca-root", "/etc/passwd"}, "is not a PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSetupEnv(t, "")
			before, _ := os.ReadFile(e.cfg)
			rc, out, errs := runSetup(t, tt.stdin, nil, append([]string{"--config", e.cfg, "--non-interactive", "--no-start"}, tt.args...)...)
			if rc != ExitConfig || !strings.Contains(errs, tt.want) {
				t.Errorf("rc %d; want %d and stderr with %q:\n%s%s", rc, ExitConfig, tt.want, out, errs)
			}
			if strings.Contains(out+errs, "secret") {
				t.Errorf("a secret reached the output:\n%s%s", out, errs)
			}
			if after, _ := os.ReadFile(e.cfg); !bytes.Equal(before, after) {
				t.Errorf("config changed:\n%s", after)
			}
			if _, err := os.Stat(e.envFile); err == nil {
				t.Error("env file written")
			}
		})
	}
}

func TestSetupACME(t *testing.T) {
	e := newSetupEnv(t, "")
	root := filepath.Join(e.dir, "root.pem")
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("a test CA")})
	os.WriteFile(root, rootPEM, 0o644)
	rc, out, errs := runSetup(t, "", nil, "--config", e.cfg, "--non-interactive", "--no-start",
		"--tls", "acme", "--domain", "claw.example.com,www.claw.example.com", "--email", "ops@example.com",
		"--acme-ca", "https://127.0.0.1:14000/dir", "--acme-ca-root", root)
	if rc != ExitOK {
		t.Fatalf("rc %d\n%s\n%s", rc, out, errs)
	}
	cfg, err := config.Load(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.Mode != "acme" || strings.Join(cfg.TLS.Domain, ",") != "claw.example.com,www.claw.example.com" ||
		cfg.TLS.Email != "ops@example.com" || cfg.TLS.ACMECA != "https://127.0.0.1:14000/dir" ||
		cfg.TLS.ACMECARoot != filepath.Join(filepath.Dir(e.cfg), "acme-ca-root.pem") {
		t.Errorf("tls = %+v", cfg.TLS)
	}
	// The service can't read /root or a home (ProtectHome): the CA root is
	// copied beside the config, with the config's owner.
	if b, err := os.ReadFile(cfg.TLS.ACMECARoot); err != nil || !bytes.Equal(b, rootPEM) {
		t.Errorf("CA root copy: %q, %v", b, err)
	}
	if fi, err := os.Stat(cfg.TLS.ACMECARoot); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("CA root copy mode %v, %v; want 0640", fi.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(e.cfg)
	if !bytes.Contains(b, []byte("# HTTPS\ntls:\n  mode: acme\n")) || !bytes.Contains(b, []byte("# A hand-written comment")) {
		t.Errorf("comments or layout lost:\n%s", b)
	}
	for _, w := range []string{"https://claw.example.com/", "https://www.claw.example.com/", "not starting openclawd (--no-start)"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestSetupInteractive(t *testing.T) {
	e := newSetupEnv(t, "")
	var out, errb bytes.Buffer
	o := newTestSetup(t, []string{"--config", e.cfg, "--no-start"},
		strings.NewReader("bogus\ninternal\nclaw.lan\nOPENCLAW_GATEWAY_PORT\nANTHROPIC_API_KEY\n\n"), &out, &errb)
	o.tty = true
	secrets := []string{"sk-ant-hidden"}
	o.readSecret = func() (string, error) {
		s := secrets[0]
		secrets = secrets[1:]
		return s, nil
	}
	if rc := o.run(context.Background()); rc != ExitOK {
		t.Fatalf("rc %d\n%s\n%s", rc, out.String(), errb.String())
	}
	cfg, err := config.Load(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.Mode != "internal" || len(cfg.TLS.Domain) != 1 || cfg.TLS.Domain[0] != "claw.lan" {
		t.Errorf("tls = %+v", cfg.TLS)
	}
	if env, err := config.ReadEnvFile(cfg.Gateway.EnvFile); err != nil || env["ANTHROPIC_API_KEY"] != "sk-ant-hidden" {
		t.Errorf("env file: %v %v", env, err)
	}
	prompts := errb.String()
	for _, w := range []string{"tls mode [off]: ", `"bogus" is not off, acme or internal`, "DNS name(s) for HTTPS", "OPENCLAW_GATEWAY_PORT: OPENCLAW_GATEWAY_PORT is set by openclawd", "value of ANTHROPIC_API_KEY (not shown): "} {
		if !strings.Contains(prompts, w) {
			t.Errorf("prompts lack %q:\n%s", w, prompts)
		}
	}
	if strings.Contains(out.String()+prompts, "sk-ant-hidden") {
		t.Error("the secret was echoed")
	}
}
