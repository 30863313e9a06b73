package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/service"
)

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
		"sudo openclawd token --config " + e.cfg, "devices approve <requestId>", "sudo openclawd pair --config " + e.cfg,
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

// TestSetupStartsTheUnitWithoutSecretsInArgv uses the real starter with a
// fake systemctl that logs its argv and environment.
func TestSetupStartsTheUnitWithoutSecretsInArgv(t *testing.T) {
	e := newSetupEnv(t, "")
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	script := "#!/bin/sh\necho \"argv: $*\" >> " + log + "\nenv >> " + log + "\n"
	os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	saved := service.Host.SystemdDir
	service.Host.SystemdDir = t.TempDir() // "systemd runs this host"
	defer func() { service.Host.SystemdDir = saved }()

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
		// setup also reads the unit's state while it waits (crashWatch).
		if a, ok := strings.CutPrefix(l, "argv: "); ok && a != "show openclawd -p "+unitShowProps {
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
	saved := service.Host.SystemdDir
	service.Host.SystemdDir = filepath.Join(t.TempDir(), "none")
	defer func() { service.Host.SystemdDir = saved }()
	rc, out, errs := runSetup(t, "", nil, "--config", e.cfg, "--non-interactive")
	if rc != ExitOK || !strings.Contains(out, "no service manager runs this host") || !strings.Contains(out, "sudo openclawd run --config "+e.cfg) {
		t.Errorf("rc %d\n%s\n%s", rc, out, errs)
	}
}

// systemctl show prints the properties in the unit's order, one KEY=VALUE a
// line; these follow that shape for a Restart=on-failure unit.
func TestCrashWatch(t *testing.T) {
	show := func(active, sub, result string, restarts, status int) string {
		return fmt.Sprintf("Result=%s\nNRestarts=%d\nExecMainStatus=%d\nLoadState=loaded\nActiveState=%s\nSubState=%s\n", result, restarts, status, active, sub)
	}
	tests := []struct {
		name  string
		polls []string
		crash int // index of the poll that must say crash; -1 none
		why   string
	}{
		{"healthy start", []string{show("activating", "start", "success", 0, 0), show("active", "running", "success", 0, 0)}, -1, ""},
		{"one restart is not a loop", []string{show("active", "running", "success", 3, 0), show("activating", "auto-restart", "exit-code", 4, 1), show("active", "running", "success", 4, 0)}, -1, ""},
		{"restarts rise by two", []string{show("active", "running", "success", 5, 0), show("activating", "start", "exit-code", 6, 1), show("activating", "start", "exit-code", 7, 1)}, 2, "restarted openclawd 2 times"},
		{"auto-restart seen twice", []string{show("activating", "auto-restart", "exit-code", 1, 1), show("activating", "auto-restart", "exit-code", 1, 1)}, 1, "keeps exiting"},
		{"failed", []string{show("failed", "failed", "exit-code", 0, 78)}, 0, "failed (result exit-code, exit status 78)"},
		{"start limit hit", []string{show("activating", "auto-restart", "exit-code", 4, 1), show("failed", "failed", "start-limit-hit", 5, 1)}, 1, "start limit hit"},
		{"no unit", []string{"LoadState=not-found\nActiveState=inactive\nSubState=dead\nNRestarts=0\nResult=success\nExecMainStatus=0\n", "LoadState=not-found\nActiveState=failed\nSubState=failed\nNRestarts=0\nResult=success\nExecMainStatus=0\n"}, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w crashWatch
			for i, p := range tt.polls {
				s, err := parseUnitShow(p)
				if err != nil {
					t.Fatal(err)
				}
				crash, why := w.observe(s)
				if want := i == tt.crash; crash != want {
					t.Fatalf("poll %d: crash %v (%q); want %v", i, crash, why, want)
				}
				if crash && !strings.Contains(why, tt.why) {
					t.Errorf("why %q; want it to say %q", why, tt.why)
				}
				if crash {
					return
				}
			}
		})
	}
}

func TestParseUnitShowRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"empty":           "",
		"bad NRestarts":   "ActiveState=active\nNRestarts=x\n",
		"no active state": "SubState=running\n",
	} {
		if _, err := parseUnitShow(in); err == nil {
			t.Errorf("%s: parsed %q", name, in)
		}
	}
}

// A crash-looping unit ends the wait at once, with its last lines and the
// fix, though --wait has long to go.
func TestSetupStopsWaitingOnCrashLoop(t *testing.T) {
	polls := 0
	prev := unitProbe
	unitProbe = func(context.Context) (unitState, bool) {
		polls++
		return unitState{Load: "loaded", Active: "activating", Sub: "auto-restart", Result: "exit-code", NRestarts: polls, ExecMainStatus: 1}, true
	}
	t.Cleanup(func() { unitProbe = prev })
	var out, errs bytes.Buffer
	o := &setup{wait: time.Hour, poll: 10 * time.Millisecond, out: &out, errw: &errs}
	cfg := &config.Config{}
	cfg.Control.Socket = filepath.Join(t.TempDir(), "none.sock")
	t0 := time.Now()
	rc := o.waitHealthy(context.Background(), localapi.NewClient(cfg.Control.Socket), 0)
	if rc != ExitFailure || time.Since(t0) > time.Minute {
		t.Fatalf("rc %d after %s", rc, time.Since(t0))
	}
	if !strings.Contains(errs.String(), "not waiting any longer") || !strings.Contains(out.String(), "Fix: ") {
		t.Errorf("output:\n%s\n%s", out.String(), errs.String())
	}
}
