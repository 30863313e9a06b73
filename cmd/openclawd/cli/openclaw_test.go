package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRuntime lays out a provisioned runtime whose "node" records its
// argv, environment and uid in dir/record and exits with rc.
func fakeRuntime(t *testing.T, state string, rc int) string {
	t.Helper()
	rt := filepath.Join(state, "runtime")
	nodeDir, ocDir := filepath.Join(rt, "node-v0-test"), filepath.Join(rt, "openclaw-0")
	launcher := filepath.Join(ocDir, "node_modules", "openclaw", "openclaw.mjs")
	for _, d := range []string{filepath.Join(nodeDir, "bin"), filepath.Dir(launcher)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	record := filepath.Join(state, "record")
	script := fmt.Sprintf("#!/bin/sh\n{ echo \"uid $(id -u)\"; echo \"cwd $(pwd)\"; for a; do echo \"arg $a\"; done; env | sed 's/^/env /'; } > %s\nexit %d\n", record, rc)
	os.WriteFile(filepath.Join(nodeDir, "bin", "node"), []byte(script), 0o755)
	os.WriteFile(launcher, nil, 0o644)
	os.WriteFile(filepath.Join(rt, "current.json"), []byte(`{"node": "node-v0-test", "openclaw": "openclaw-0"}`), 0o644)
	return launcher
}

func TestOpenclawPassesThrough(t *testing.T) {
	dir, err := os.MkdirTemp("", "ocl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	state := filepath.Join(dir, "state")
	launcher := fakeRuntime(t, state, 3)
	const token = "tok-0123456789abcdef0123456789"
	os.MkdirAll(filepath.Join(state, "secrets"), 0o700)
	os.WriteFile(filepath.Join(state, "secrets", "gateway-token"), []byte(token+"\n"), 0o600)
	os.MkdirAll(filepath.Join(state, "openclaw"), 0o700)
	os.MkdirAll(filepath.Join(state, "home"), 0o700)
	envFile := filepath.Join(dir, "gateway.env")
	os.WriteFile(envFile, []byte("OPENAI_API_KEY=sk-env\n"), 0o600)
	t.Setenv("INVOCATION_ID", "x") // as under systemd: must not reach openclaw
	t.Setenv("TERM", "xterm-test")
	cfg := filepath.Join(dir, "openclawd.yaml")
	// user: root keeps this in-process (a root openclawd would run itself
	// again as the service user: e2e's TestRootCommandsFollowNothingPlanted
	// covers that, with the real binary).
	os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir: %s\nuser: root\ngateway:\n  port: 18999\n  env_file: %s\n", state, envFile)), 0o600)
	wantUID := os.Geteuid()

	var out, errb bytes.Buffer
	rc := Main([]string{"openclaw", "--config", cfg, "devices", "approve", "req-1", "--config", "theirs"}, &out, &errb)
	if rc != 3 {
		t.Fatalf("rc %d; want openclaw's 3\n%s", rc, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(state, "record"))
	if err != nil {
		t.Fatal(err)
	}
	rec := string(b)
	for _, w := range []string{
		fmt.Sprintf("uid %d\n", wantUID), "cwd " + filepath.Join(state, "home") + "\n",
		"arg " + launcher + "\narg devices\narg approve\narg req-1\narg --config\narg theirs\n",
		"env OPENCLAW_GATEWAY_TOKEN=" + token + "\n", "env OPENCLAW_GATEWAY_PORT=18999\n",
		"env OPENCLAW_STATE_DIR=" + filepath.Join(state, "openclaw") + "\n", "env OPENAI_API_KEY=sk-env\n",
		"env OPENCLAW_SUPERVISOR_MODE=external\n", "env TERM=xterm-test\n",
	} {
		if !strings.Contains(rec, w) {
			t.Errorf("openclaw did not get %q:\n%s", w, rec)
		}
	}
	for _, line := range strings.Split(rec, "\n") {
		if strings.HasPrefix(line, "arg ") && strings.Contains(line, token) {
			t.Errorf("the token is in argv: %s", line)
		}
		if strings.HasPrefix(line, "env INVOCATION_ID=") {
			t.Errorf("a supervisor marker reached openclaw: %s", line)
		}
	}
}

func TestOpenclawNeedsARuntime(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "openclawd.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+filepath.Join(dir, "state")+"\nuser: root\n"), 0o600)
	var out, errb bytes.Buffer
	if rc := Main([]string{"openclaw", "--config=" + cfg, "devices", "list"}, &out, &errb); rc != ExitFailure || !strings.Contains(errb.String(), "openclaw is not installed") {
		t.Errorf("rc %d: %s", rc, errb.String())
	}
}
