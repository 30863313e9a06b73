package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/localapi/apitype"
)

func TestKill9IsRecovered(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	// Healthy comes with /startupz; the WebSocket probe connects just after.
	st, _ := in.waitStatus("a healthy gateway with its WebSocket probe", 30*time.Second, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Gateway.PID > 0 && s.Health.Deep.HelloOK
	})
	if st.Gateway.Restarts != 0 || st.Gateway.State != "running" {
		t.Fatalf("fresh gateway: %+v", st.Gateway)
	}
	old := st.Gateway.PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st, _ = in.waitStatus("a new healthy gateway", 30*time.Second, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Gateway.PID != old && s.Gateway.PID > 0
	})
	if st.Gateway.Restarts != 1 || st.Gateway.LastExit == nil || st.Gateway.LastExit.Signal != "SIGKILL" {
		t.Errorf("after kill -9: restarts %d, last exit %+v; want 1 restart after SIGKILL", st.Gateway.Restarts, st.Gateway.LastExit)
	}
	if alive(old) {
		t.Errorf("old gateway pid %d still alive", old)
	}
}

func TestHangIsDetectedAndRestarted(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	old := in.waitHealthy().Gateway.PID
	in.cue("hang")
	st, _ := in.waitStatus("a restart after the hang", 30*time.Second, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Gateway.PID != old && s.Gateway.LastExit != nil
	})
	if r := st.Gateway.LastExit.Reason; !strings.Contains(r, "hung") {
		t.Errorf("last exit reason %q does not say it hung", r)
	}
	if alive(old) {
		t.Errorf("hung gateway pid %d still alive", old)
	}
}

func TestStoppedProcessIsKilled(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	old := in.waitHealthy().Gateway.PID
	// SIGSTOP: the process ignores SIGTERM until continued; openclawd must SIGKILL it.
	if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	in.waitStatus("unhealthy, then a restart", 30*time.Second, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Gateway.PID != old
	})
	fgtest.WaitFor(t, 10*time.Second, "the stopped gateway to be gone", func() bool { return !alive(old) })
}

func TestExit78FailsWithoutRespawning(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{mode: "exit78"})
	st, rc := in.waitStatus("failed", 30*time.Second, func(s apitype.Status, _ int) bool {
		return s.Gateway.State == "failed"
	})
	if rc != 1 || st.Healthy {
		t.Errorf("status rc %d healthy %v; want 1, false", rc, st.Healthy)
	}
	if st.Gateway.Code != "config_invalid" || !strings.Contains(st.Gateway.Reason, `Unrecognized key: "bogus"`) {
		t.Errorf("failed gateway: code %q reason %q; want config_invalid with the gateway's own message", st.Gateway.Code, st.Gateway.Reason)
	}
	if st.Gateway.LastExit == nil || st.Gateway.LastExit.Code != 78 {
		t.Errorf("last exit %+v; want code 78", st.Gateway.LastExit)
	}
	if len(st.NextSteps) == 0 {
		t.Error("no next step for a failed gateway")
	}
	out, _ := in.cli("status", "--socket", in.sock)
	for _, want := range []string{"gateway is failed", "config_invalid", "What to do:", "openclawd restart"} {
		if !strings.Contains(out, want) {
			t.Errorf("human status lacks %q:\n%s", want, out)
		}
	}
	// Fix the cause and ask for a restart: exactly one more start proves
	// nothing respawned in between.
	in.setMode("normal")
	if out, rc := in.cli("restart", "--socket", in.sock); rc != 0 {
		t.Fatalf("restart: rc %d: %s", rc, out)
	}
	in.waitHealthy()
	if starts := in.eventLines("start"); len(starts) != 2 {
		t.Errorf("gateway started %d times; want 2 (the failed one and the requested restart): %v", len(starts), starts)
	}
	if n := strings.Count(in.stderr.String(), "gateway failed;"); n != 1 {
		t.Errorf("the failure was logged %d times; want once", n)
	}
}

func TestConfigChangeRestartsAFailedGateway(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{mode: "exit78"})
	in.waitStatus("failed", 30*time.Second, func(s apitype.Status, _ int) bool { return s.Gateway.State == "failed" })
	in.setMode("normal")
	f, err := os.OpenFile(in.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "# edited")
	f.Close()
	in.waitHealthy()
}

func TestExit0IsARestartRequestNotACrash(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	old := in.waitHealthy().Gateway.PID
	in.cue("restart")
	st, _ := in.waitStatus("a restarted gateway", 30*time.Second, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Gateway.PID != old
	})
	if st.Gateway.Crashes != 0 || st.Gateway.Restarts != 1 {
		t.Errorf("crashes %d restarts %d; want 0 and 1", st.Gateway.Crashes, st.Gateway.Restarts)
	}
	if le := st.Gateway.LastExit; le == nil || le.Code != 0 || !strings.Contains(le.Reason, "asked for a restart") {
		t.Errorf("last exit %+v; want code 0, a restart request", le)
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{mode: "crash"})
	st, rc := in.waitStatus("backoff", 30*time.Second, func(s apitype.Status, _ int) bool {
		return s.Gateway.State == "backoff" && s.Gateway.Crashes >= 2
	})
	if rc != 1 || st.Gateway.NextStartAt == nil || !strings.Contains(st.Gateway.Reason, "next start in") {
		t.Errorf("backoff status rc %d: %+v", rc, st.Gateway)
	}
	in.setMode("normal")
	in.waitHealthy()
}

func TestNonLoopbackBindIsRefused(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{mode: "bind-any"})
	st, rc := in.waitStatus("failed", 30*time.Second, func(s apitype.Status, _ int) bool {
		return s.Gateway.State == "failed"
	})
	if rc != 1 || st.Gateway.Code != "not_loopback" || !strings.Contains(st.Gateway.Reason, fmt.Sprintf("0.0.0.0:%d", in.port)) {
		t.Errorf("rc %d gateway %+v; want failed, not_loopback, naming 0.0.0.0:%d", rc, st.Gateway, in.port)
	}
	starts := in.eventLines("start")
	if len(starts) != 1 {
		t.Fatalf("starts %v; want exactly one", starts)
	}
	var pid int
	fmt.Sscanf(starts[0], "start pid=%d", &pid)
	fgtest.WaitFor(t, 10*time.Second, "the exposed gateway to be gone", func() bool { return !alive(pid) })
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", in.port), time.Second); err == nil {
		c.Close()
		t.Error("something still listens on the gateway port")
	}
}

func TestForeignProcessOnPortIsNamedNotKilled(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{noStart: true})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", in.port))
	if err != nil {
		t.Fatal(err)
	}
	in.start()
	st, rc := in.waitStatus("port_in_use", 30*time.Second, func(s apitype.Status, _ int) bool {
		return s.Gateway.Code == "port_in_use"
	})
	// openclawd runs as the service user and cannot read root's fds: the
	// holder is named by uid, with `ss -ltnp` in the fix for its pid.
	want := "a process of uid 0 (root) on 127.0.0.1"
	if rc != 1 || !strings.Contains(st.Gateway.Reason, want) || !strings.Contains(st.Gateway.Reason, "ss -ltnp") {
		t.Errorf("rc %d reason %q; want it to name %q", rc, st.Gateway.Reason, want)
	}
	if len(in.eventLines("start")) != 0 {
		t.Error("a gateway was started on a busy port")
	}
	ln.Close() // the foreign process goes away: openclawd recovers by itself
	in.waitHealthy()
}

func TestStaleGatewayOfOursIsStopped(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{noStart: true})
	// A gateway left by an earlier openclawd: running, on the port, in the pid file.
	stale := newFakeProcess(t, in)
	in.start()
	st := in.waitHealthy()
	if st.Gateway.PID == stale {
		t.Fatal("the stale gateway was adopted, not replaced")
	}
	fgtest.WaitFor(t, 10*time.Second, "the stale gateway to be gone", func() bool { return !alive(stale) })
}

func TestSIGTERMStopsCleanlyWithNoOrphan(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	pid := in.waitHealthy().Gateway.PID
	if rc := in.stop(); rc != 0 {
		t.Errorf("openclawd exit code %d; want 0\n%s", rc, in.stderr.String())
	}
	if alive(pid) {
		t.Errorf("gateway pid %d survived openclawd", pid)
	}
	if exits := in.eventLines("exit"); len(exits) != 1 || !strings.HasSuffix(exits[0], "code=0") {
		t.Errorf("gateway exits %v; want one clean exit (code 0) from SIGTERM", exits)
	}
	if _, err := os.Stat(in.sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if _, rc := in.status(); rc != 3 {
		t.Errorf("status after stop: rc %d; want 3 (not running)", rc)
	}
}

func TestGatewayEnvironmentAndSecrets(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{env: []string{"INVOCATION_ID=abc", "JOURNAL_STREAM=8:1", "SYSTEMD_EXEC_PID=1", "LISTEN_FDS=1", "SECRET_OF_OPENCLAWD=x"}})
	st := in.waitHealthy()
	tok := in.token()
	if len(tok) < 64 {
		t.Errorf("generated token has %d chars", len(tok))
	}
	b, err := os.ReadFile(in.envDump)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"OPENCLAW_GATEWAY_TOKEN": tok, "OPENCLAW_GATEWAY_PORT": fmt.Sprint(in.port),
		"OPENCLAW_SUPERVISOR_MODE": "external", "OPENCLAW_SERVICE_REPAIR_POLICY": "external",
		"OPENCLAW_NO_AUTO_UPDATE": "1", "TMPDIR": filepath.Join(in.dir, "state", "tmp", "gateway"),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("gateway env %s = %q; want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"INVOCATION_ID", "JOURNAL_STREAM", "SYSTEMD_EXEC_PID", "LISTEN_FDS", "SECRET_OF_OPENCLAWD"} {
		if _, ok := env[k]; ok {
			t.Errorf("gateway inherited %s", k)
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.Gateway.PID))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cmdline), tok) {
		t.Error("the token is in the gateway's argv")
	}
	for path, mode := range map[string]os.FileMode{
		filepath.Join(in.dir, "state", "secrets", "gateway-token"): 0o600,
		filepath.Join(in.dir, "state", "secrets"):                  0o700,
		filepath.Join(in.dir, "state", "tmp", "gateway"):           0o700,
		filepath.Join(in.dir, "state", "logs", "openclawd.log"):    0o600,
		in.sock: 0o660,
	} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (err %v); want %v", path, fi.Mode().Perm(), err, mode)
		}
	}
	in.stop()
	logs, _ := os.ReadFile(filepath.Join(in.dir, "state", "logs", "openclawd.log"))
	if strings.Contains(string(logs)+in.stderr.String(), tok) {
		t.Error("the token appears in openclawd's logs")
	}
	if st.Gateway.TokenSource == "" || strings.Contains(st.Gateway.TokenSource, tok) {
		t.Errorf("token_source %q", st.Gateway.TokenSource)
	}
}

func TestLogFloodStaysBounded(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	in.waitHealthy()
	logFile := filepath.Join(in.dir, "state", "logs", "openclawd.log")
	before := countLines(t, logFile)
	in.cue("flood?rate=2000&seconds=3&kind=same&stream=stdout")
	fgtest.WaitFor(t, 30*time.Second, "the flood to end", func() bool { return len(in.eventLines("flood-done")) > 0 })
	in.stop() // flushes the "repeated N times" summaries
	lines := readLines(t, logFile)
	added := len(lines) - before
	if added > 100 {
		t.Errorf("a 6,000-line flood added %d lines to the log; want at most 100", added)
	}
	var summary bool
	for _, l := range lines {
		summary = summary || strings.Contains(l, "repeated")
	}
	if !summary {
		t.Error("no 'repeated N times' summary in the log")
	}
}
