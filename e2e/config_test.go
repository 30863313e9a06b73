package e2e

// Config mistakes, status without a daemon, and legacy state.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/localapi/apitype"
)

func TestMalformedConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "gateway:\n  prot: 1\n", []string{":2: gateway.prot: unknown key", `did you mean "gateway.port"`}},
		{"bad port", "gateway:\n  port: 99999\n", []string{":2: gateway.port: 99999 is not a TCP port"}},
		{"bad type", "health:\n  failures: many\n", []string{":2: health.failures:", `"many" is not a valid number`}},
	}
	in := &instance{t: t}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in.t = t
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			os.WriteFile(p, []byte(tt.yaml), 0o600)
			for _, cmd := range []string{"run", "validate"} {
				out, rc := in.cli(cmd, "--config", p)
				if rc != 78 {
					t.Errorf("%s: exit %d; want 78", cmd, rc)
				}
				for _, w := range append(tt.want, p) {
					if !strings.Contains(out, w) {
						t.Errorf("%s output lacks %q:\n%s", cmd, w, out)
					}
				}
			}
		})
	}
}

func TestStatusWhenNotRunning(t *testing.T) {
	t.Parallel()
	in := &instance{t: t}
	sock := filepath.Join(t.TempDir(), "none.sock")
	out, rc := in.cli("status", "--socket", sock)
	if rc != 3 || !strings.Contains(out, "not running") || !strings.Contains(out, "systemctl start openclawd") {
		t.Errorf("rc %d, output:\n%s", rc, out)
	}
}

func TestGatewayConfigEditRestartsAFailedGateway(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{mode: "exit78"})
	in.waitStatus("failed", 30*time.Second, func(s apitype.Status, _ int) bool { return s.Gateway.State == "failed" })
	gw := filepath.Join(in.dir, "state", "openclaw", "openclaw.json")
	b, err := os.ReadFile(gw)
	if err != nil {
		t.Fatalf("openclawd did not write the gateway config: %v", err)
	}
	for _, want := range []string{`"bind": "loopback"`, `"mode": "token"`, `"checkOnStart": false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("openclaw.json lacks %s:\n%s", want, b)
		}
	}
	in.setMode("normal")
	if err := os.WriteFile(gw, append(b, '\n'), 0o600); err != nil { // the user's fix
		t.Fatal(err)
	}
	in.waitHealthy()
	if starts := in.eventLines("start"); len(starts) != 2 {
		t.Errorf("starts %v; want 2", starts)
	}
}

func TestLegacyStateIsReportedNotRead(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{noStart: true})
	legacy := filepath.Join(in.dir, "state", "home", ".clawdbot")
	if err := os.MkdirAll(legacy, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(legacy, "clawdbot.json"), []byte(`{gateway:{mode:"local"}}`), 0o600)
	in.start()
	// A warning, not a failure: the gateway is healthy (exit 0) and status
	// says what it found.
	in.waitStatus("healthy with a legacy_state warning", 30*time.Second, func(s apitype.Status, rc int) bool {
		for _, w := range s.Warnings {
			if w.Code == "legacy_state" && strings.Contains(w.Text, legacy) {
				return rc == 0
			}
		}
		return false
	})
	out, drc := in.cli("doctor", "--config", in.cfg)
	if drc == 0 || !strings.Contains(out, "legacy state  found "+legacy) || !strings.Contains(out, "migrate-legacy") {
		t.Errorf("doctor (rc %d):\n%s", drc, out)
	}
	if out, rc := in.cli("migrate-legacy", "--config", in.cfg); rc == 0 || !strings.Contains(out, "stop it first") {
		t.Errorf("migrate-legacy ran while openclawd was running (rc %d):\n%s", rc, out)
	}
	in.stop()
	out, rc := in.cli("migrate-legacy", "--config", in.cfg)
	if rc != 0 {
		t.Fatalf("migrate-legacy: rc %d\n%s", rc, out)
	}
	b, err := os.ReadFile(filepath.Join(in.dir, "state", "openclaw", "openclaw.json"))
	if err != nil || !strings.Contains(string(b), `mode:"local"`) {
		t.Errorf("migrated openclaw.json = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(legacy, "clawdbot.json")); err != nil {
		t.Errorf("the original was not kept: %v", err)
	}
	if out, _ := in.cli("doctor", "--config", in.cfg); !strings.Contains(out, "no clawdbot-era state found") {
		t.Errorf("doctor after migration:\n%s", out)
	}
}
