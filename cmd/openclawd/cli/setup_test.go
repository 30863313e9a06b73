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

// runSetup runs setup with stdin and the start hook; user "" hands files
// to nobody.
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
// for stdin and hands files to nobody (user "").
func newTestSetup(t *testing.T, args []string, stdin *strings.Reader, out, errb *bytes.Buffer) *setup {
	t.Helper()
	o, rc := newSetup(args, out, errb)
	if o == nil {
		t.Fatalf("parsing %v: rc %d: %s", args, rc, errb)
	}
	o.in, o.tty, o.user, o.poll = bufio.NewReader(stdin), false, "", 50*time.Millisecond
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

func TestSetupStartsWaitsAndIsIdempotent(t *testing.T) {
	e := newSetupEnv(t, buildFake(t))
	start, starts := daemonStarter(t)
	const stdin = "OPENAI_API_KEY=sk-test-123\nSLACK_BOT_TOKEN=\"xoxb 456 #x\"\n"
	args := []string{"--config", e.cfg, "--non-interactive", "--env", "OPENAI_API_KEY", "--env", "SLACK_BOT_TOKEN", "--wait", "60s"}
	before, _ := os.ReadFile(e.cfg)

	rc, out, errs := runSetup(t, stdin, start, args...)
	if rc != ExitOK {
		t.Fatalf("rc %d\n%s\n%s", rc, out, errs)
	}
	for _, w := range []string{
		e.cfg + ": set gateway.env_file", e.envFile + ": set OPENAI_API_KEY, SLACK_BOT_TOKEN",
		"gateway token: generated in " + e.dir + "/state/secrets/gateway-token",
		"the gateway is healthy", fmt.Sprintf("http://127.0.0.1:%d/", e.port),
		"sudo openclawd token --config " + e.cfg, "devices approve <requestId>",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, secret := range []string{"sk-test-123", "xoxb"} {
		if strings.Contains(out+errs, secret) {
			t.Errorf("output shows a secret:\n%s%s", out, errs)
		}
	}
	env, err := config.ReadEnvFile(e.envFile) // also checks 0600
	if err != nil || env["OPENAI_API_KEY"] != "sk-test-123" || env["SLACK_BOT_TOKEN"] != "xoxb 456 #x" {
		t.Errorf("env file: %v %v", env, err)
	}
	// The config gained one line and kept everything else.
	after, _ := os.ReadFile(e.cfg)
	if want := strings.Replace(string(before), "  stop_timeout: 5s\n", "  stop_timeout: 5s\n  env_file: "+e.envFile+"\n", 1); string(after) != want {
		t.Errorf("config:\n%s\nwant:\n%s", after, want)
	}
	if fi, _ := os.Stat(e.cfg); fi.Mode().Perm() != 0o640 {
		t.Errorf("config mode %v; want it kept at 0640", fi.Mode().Perm())
	}

	// Same inputs again: no file changes, no restart of a healthy openclawd.
	files := []string{e.cfg, e.envFile, filepath.Join(e.dir, "state", "secrets", "gateway-token")}
	snap := snapshot(t, files...)
	rc, out, errs = runSetup(t, stdin, start, args...)
	if rc != ExitOK {
		t.Fatalf("second run: rc %d\n%s\n%s", rc, out, errs)
	}
	if n := strings.Count(out, "unchanged"); n != 3 || !strings.Contains(out, "not restarting") {
		t.Errorf("second run: want config, env file and token unchanged and no restart:\n%s", out)
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("%d starts; want 1", n)
	}
	for p, s := range snapshot(t, files...) {
		if o := snap[p]; !bytes.Equal(o.data, s.data) || !o.mtime.Equal(s.mtime) || o.mode != s.mode {
			t.Errorf("%s changed on the second run", p)
		}
	}
}

func TestSetupReportsAFailedGateway(t *testing.T) {
	e := newSetupEnv(t, buildFake(t))
	e.setMode(t, "exit78")
	start, _ := daemonStarter(t)
	t0 := time.Now()
	rc, out, errs := runSetup(t, "", start, "--config", e.cfg, "--non-interactive", "--wait", "2m")
	if rc != ExitFailure {
		t.Fatalf("rc %d; want %d\n%s\n%s", rc, ExitFailure, out, errs)
	}
	if time.Since(t0) > time.Minute {
		t.Errorf("took %s: a failed gateway should end the wait at once", time.Since(t0))
	}
	// The status's own reason and fix.
	for _, w := range []string{"the gateway is failed", "What to do:", "→ "} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(errs, "not healthy after") {
		t.Errorf("stderr: %s", errs)
	}
}

func TestSetupWaitTimesOut(t *testing.T) {
	e := newSetupEnv(t, "")
	nothing := func(context.Context, *config.Config) error { return nil }
	rc, out, errs := runSetup(t, "", nothing, "--config", e.cfg, "--non-interactive", "--wait", "300ms")
	if rc != ExitFailure || !strings.Contains(errs, "did not come up within 300ms") || !strings.Contains(errs, "not running") {
		t.Errorf("rc %d\n%s\n%s", rc, out, errs)
	}
	if !strings.Contains(out, "waiting for openclawd to start") {
		t.Errorf("no progress line:\n%s", out)
	}
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

// TestSetupStartsTheUnitWithoutSecretsInArgv uses the real starter with a
// fake systemctl that logs its argv and environment.
func TestSetupStartsTheUnitWithoutSecretsInArgv(t *testing.T) {
	e := newSetupEnv(t, "")
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	script := "#!/bin/sh\necho \"argv: $*\" >> " + log + "\nenv >> " + log + "\n"
	os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	saved := host.systemdDir
	host.systemdDir = t.TempDir() // "systemd runs this host"
	defer func() { host.systemdDir = saved }()

	rc, out, errs := runSetup(t, "OPENAI_API_KEY=sk-never-in-argv\n", nil,
		"--config", e.cfg, "--non-interactive", "--env", "OPENAI_API_KEY", "--wait", "200ms")
	if rc != ExitFailure { // nothing really starts
		t.Errorf("rc %d; want %d\n%s\n%s", rc, ExitFailure, out, errs)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("systemctl not run: %v\n%s%s", err, out, errs)
	}
	var argv []string
	for _, l := range strings.Split(string(b), "\n") {
		if a, ok := strings.CutPrefix(l, "argv: "); ok {
			argv = append(argv, a)
		}
	}
	if strings.Join(argv, "; ") != "reset-failed openclawd.service; restart --no-block openclawd.service" {
		t.Errorf("systemctl calls: %q", argv)
	}
	if strings.Contains(string(b), "sk-never-in-argv") {
		t.Error("the secret reached systemctl's argv or environment")
	}
}

func TestSetupWithoutServiceManager(t *testing.T) {
	e := newSetupEnv(t, "")
	saved := host.systemdDir
	host.systemdDir = filepath.Join(t.TempDir(), "none")
	defer func() { host.systemdDir = saved }()
	rc, out, errs := runSetup(t, "", nil, "--config", e.cfg, "--non-interactive")
	if rc != ExitOK || !strings.Contains(out, "no service manager runs this host") || !strings.Contains(out, "sudo openclawd run --config "+e.cfg) {
		t.Errorf("rc %d\n%s\n%s", rc, out, errs)
	}
}

// TestSetupOwnership: as root, the env file and token go to the service
// user (nobody here), and the config keeps its own mode and owner.
func TestSetupOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	e := newSetupEnv(t, "")
	if err := os.Chown(e.cfg, 0, 65534); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	o := newTestSetup(t, []string{"--config", e.cfg, "--non-interactive", "--no-start", "--env", "OPENAI_API_KEY", "--tls", "internal", "--domain", "claw.lan"},
		strings.NewReader("OPENAI_API_KEY=sk-1\n"), &out, &errb)
	o.user = "nobody"
	if rc := o.run(context.Background()); rc != ExitOK {
		t.Fatalf("rc %d\n%s\n%s", rc, out.String(), errb.String())
	}
	checkFile(t, e.cfg, 0o640, 0, 65534)
	checkFile(t, e.envFile, 0o600, 65534, 65534)
	checkFile(t, filepath.Join(e.dir, "state", "secrets", "gateway-token"), 0o600, 65534, 65534)
	checkFile(t, filepath.Join(e.dir, "state", "secrets"), 0o700, 65534, 65534)
}

func TestMergeEnv(t *testing.T) {
	old := "# keys\nexport OPENAI_API_KEY=old\nKEEP='x y'\n\n# end"
	vals := map[string]string{"OPENAI_API_KEY": "new value", "B": `q"uo\te`, "A": "'lead", "C": "héllo #1"}
	oldVals, err := config.ParseEnv("t", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	out, keys := mergeEnv([]byte(old), oldVals, vals)
	want := "# keys\nOPENAI_API_KEY=\"new value\"\nKEEP='x y'\n\n# end\nA=\"'lead\"\nB=\"q\\\"uo\\\\te\"\nC=\"héllo #1\"\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if strings.Join(keys, ",") != "OPENAI_API_KEY,A,B,C" {
		t.Errorf("keys %v", keys)
	}
	got, err := config.ParseEnv("t", out)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vals {
		if got[k] != v {
			t.Errorf("%s read back as %q; want %q", k, got[k], v)
		}
	}
	if got["KEEP"] != "x y" {
		t.Errorf("KEEP = %q", got["KEEP"])
	}
	if _, keys := mergeEnv(out, got, vals); len(keys) != 0 {
		t.Errorf("second merge changed %v", keys)
	}
}
