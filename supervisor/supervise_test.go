package supervisor_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fakegateway"
	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/internal/sockets"
	"github.com/openclawd/openclawd/supervisor"
)

func TestMain(m *testing.M) { os.Exit(fgtest.Main(m)) }

// rig is a Supervisor of the fake gateway with a real health.Checker whose
// Listener hook is the Supervisor's VerifyListener, as the daemon wires it.
type rig struct {
	sup     *supervisor.Supervisor
	port    int
	dir     string // FAKE_GATEWAY_EVENTS is dir/events
	log     *fgtest.SyncBuffer
	healthy atomic.Int32
}

type rigOpts struct {
	argv      func(port int, fake string) []string // default: the fake itself
	env       []string
	spec      func(context.Context, supervisor.Spec) (supervisor.Spec, error) // wraps the default
	subreaper bool
	health    func(*health.Options)
	mode      string // the fake's mode for the first start
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	port, err := fakegateway.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{port: port, dir: t.TempDir(), log: &fgtest.SyncBuffer{}}
	if o.mode != "" {
		r.setMode(t, o.mode)
	}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(r.log, testWriter(t)), nil))
	fake := fgtest.Binary(t)
	argv := []string{fake, "gateway", "run", "--port", strconv.Itoa(port)}
	if o.argv != nil {
		argv = o.argv(port, fake)
	}
	base := supervisor.Spec{Argv: argv, Env: append([]string{
		"PATH=/usr/bin:/bin", "NO_COLOR=1", "OPENCLAW_GATEWAY_TOKEN=" + fgtest.Token,
		"OPENCLAW_SUPERVISOR_MODE=external", "FAKE_GATEWAY_STARTUP_MS=50", "FAKE_GATEWAY_TICK_MS=100",
		"FAKE_GATEWAY_EVENTS=" + filepath.Join(r.dir, "events"), "FAKE_GATEWAY_MODE_FILE=" + filepath.Join(r.dir, "mode"),
	}, o.env...)}
	ho := health.DefaultOptions()
	ho.Port, ho.Token, ho.Logger = port, func() string { return fgtest.Token }, logger
	ho.StartupTimeout, ho.StartupInterval = 20*time.Second, 20*time.Millisecond
	ho.Interval, ho.Timeout, ho.Failures, ho.DeepInterval = 200*time.Millisecond, 100*time.Millisecond, 3, time.Second
	ho.Listener = func() error { return r.sup.VerifyListener() }
	if o.health != nil {
		o.health(&ho)
	}
	checker := health.New(ho)
	if err := checker.Validate(); err != nil {
		t.Fatal(err)
	}
	r.sup, err = supervisor.New(supervisor.Options{
		Port: port,
		Spec: func(ctx context.Context) (supervisor.Spec, error) {
			if o.spec != nil {
				return o.spec(ctx, base)
			}
			return base, nil
		},
		Prober:      checker,
		Policy:      supervisor.Policy{MinDelay: 100 * time.Millisecond, MaxDelay: 500 * time.Millisecond},
		StopTimeout: 5 * time.Second,
		KillTimeout: 200 * time.Millisecond,
		Logger:      logger,
		OnHealthy:   func() { r.healthy.Add(1) },
		Subreaper:   o.subreaper,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.sup.Stop(ctx)
	})
	return r
}

// testWriter logs through t when -v is given.
func testWriter(t *testing.T) io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
}

func (r *rig) setMode(t *testing.T, mode string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "mode"), []byte(mode+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wait polls the status until cond holds or d passes.
func (r *rig) wait(t *testing.T, d time.Duration, what string, cond func(supervisor.Status) bool) supervisor.Status {
	t.Helper()
	var st supervisor.Status
	fgtest.WaitFor(t, d, what, func() bool { st = r.sup.Status(); return cond(st) })
	return st
}

// eventPID returns the pid of the last "<kind> pid=N" event, or 0.
func (r *rig) eventPID(kind string) int {
	b, _ := os.ReadFile(filepath.Join(r.dir, "events"))
	m := regexp.MustCompile(`(?m)^`+kind+` pid=(\d+)`).FindAllStringSubmatch(string(b), -1)
	if len(m) == 0 {
		return 0
	}
	pid, _ := strconv.Atoi(m[len(m)-1][1])
	return pid
}

// gone reports whether pid no longer exists, zombies included: a reaped
// process answers ESRCH.
func gone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }

// TestSquatterDuringStart has another uid bind 127.0.0.1:<port> between the
// supervisor's port check and the gateway's bind, answer /startupz with
// "started" and log any connect token. The gateway must never be declared
// healthy, the squatter must get no token, and the reason must name it.
func TestSquatterDuringStart(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the squatter as another uid")
	}
	// The build cache is root's: the squatter runs a copy it can reach.
	shared, err := os.MkdirTemp("", "squat")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	squatBin := filepath.Join(shared, "squatter")
	if b, err := os.ReadFile(fgtest.Binary(t)); err != nil || os.WriteFile(squatBin, b, 0o755) != nil {
		t.Fatalf("copying the fake: %v", err)
	}
	goFile, squatEvents := filepath.Join(shared, "go"), filepath.Join(shared, "events")

	var squatPID atomic.Int64
	var squatPort int
	squatOut := &fgtest.SyncBuffer{}
	r := newRig(t, rigOpts{
		// The gateway's command cues the squatter, which binds first, then
		// becomes the gateway, which retries its bind as the real one does.
		argv: func(port int, fake string) []string {
			squatPort = port
			return []string{"/bin/sh", "-c", fmt.Sprintf(`touch %s; until grep -q listening %s 2>/dev/null; do sleep 0.01; done; exec %s gateway run --port %d`,
				goFile, squatEvents, fake, port)}
		},
		env: []string{"FAKE_GATEWAY_BIND_RETRY_MS=60000"},
		spec: func(ctx context.Context, s supervisor.Spec) (supervisor.Spec, error) {
			if squatPID.Load() != 0 {
				return s, nil // the first start only: Spec runs before the port check
			}
			sq := exec.Command(squatBin, "gateway", "run", "--port", strconv.Itoa(squatPort))
			sq.Env = []string{"OPENCLAW_GATEWAY_TOKEN=squatter-own-token", "FAKE_GATEWAY_STARTUP_MS=0",
				"FAKE_GATEWAY_LOG_CONNECT=1", "FAKE_GATEWAY_WAIT_FILE=" + goFile, "FAKE_GATEWAY_EVENTS=" + squatEvents, "NO_COLOR=1"}
			sq.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65533, Gid: 65533}}
			sq.Stdout = squatOut
			if err := sq.Start(); err != nil {
				return s, err
			}
			squatPID.Store(int64(sq.Process.Pid))
			t.Cleanup(func() { _ = sq.Process.Kill(); _ = sq.Wait() })
			return s, nil
		},
		health: func(o *health.Options) { o.Deep = true },
	})
	// Until the squatter is named, nothing may look healthy.
	fgtest.WaitFor(t, 30*time.Second, "the squatter to be refused", func() bool {
		if st := r.sup.Status(); st.State == supervisor.Running {
			t.Fatalf("the gateway was declared running while a squatter held its port: %+v", st)
		}
		return strings.Contains(r.log.String(), "another process answered")
	})
	pid := int(squatPID.Load())
	named := fmt.Sprintf("pid %d (squatter) on 127.0.0.1:%d", pid, squatPort)
	if logText := r.log.String(); !strings.Contains(logText, named) {
		t.Errorf("no log line names the squatter as %q:\n%s", named, logText)
	}
	// The next start finds the port taken and backs off, naming it again.
	st := r.wait(t, 20*time.Second, "a backoff for the taken port", func(st supervisor.Status) bool {
		return st.State == supervisor.Backoff && st.Code == supervisor.CodePortInUse
	})
	if !strings.Contains(st.Reason, fmt.Sprintf("pid %d (squatter)", pid)) {
		t.Errorf("status reason %q does not name the squatter pid %d", st.Reason, pid)
	}
	if n := r.healthy.Load(); n != 0 {
		t.Errorf("OnHealthy called %d times", n)
	}
	if strings.Contains(squatOut.String(), fgtest.Token) {
		t.Errorf("the squatter received the gateway token:\n%s", squatOut)
	}
}

// TestEscapedListenerIsFoundAndKilled runs a gateway whose setsid'd,
// double-forked grandchild listens on 0.0.0.0: with the subreaper it is
// part of the tree, so the loopback check finds it, and it dies with the
// gateway.
func TestEscapedListenerIsFoundAndKilled(t *testing.T) {
	r := newRig(t, rigOpts{subreaper: true, mode: "escape-any"})
	st := r.wait(t, 30*time.Second, "failed: not loopback", func(st supervisor.Status) bool { return st.State == supervisor.Failed })
	if st.Code != supervisor.CodeNotLoopback || !strings.Contains(st.Reason, "0.0.0.0:") {
		t.Fatalf("status = %s %q: %s, want not_loopback on 0.0.0.0", st.State, st.Code, st.Reason)
	}
	escaped := r.eventPID("escaped")
	if escaped == 0 {
		t.Fatal("the fake recorded no escaped process")
	}
	fgtest.WaitFor(t, 10*time.Second, "the escaped listener to be killed and reaped", func() bool { return gone(escaped) })
	if desc, _ := sockets.Descendants(os.Getpid()); len(desc) > 0 {
		t.Errorf("processes left behind: %v", desc)
	}
}

// TestEscapedIdleProcessDiesWithACrash: an idle escaped grandchild is
// killed when the gateway crashes (kill -9), and nothing is left.
func TestEscapedIdleProcessDiesWithACrash(t *testing.T) {
	r := newRig(t, rigOpts{subreaper: true, mode: "escape-idle"})
	st := r.wait(t, 30*time.Second, "running", func(st supervisor.Status) bool { return st.State == supervisor.Running })
	escaped := r.eventPID("escaped")
	if escaped == 0 || gone(escaped) {
		t.Fatalf("no escaped process running (pid %d)", escaped)
	}
	if ppid := parentOf(escaped); ppid != os.Getpid() {
		t.Fatalf("escaped pid %d has parent %d, want this subreaper %d", escaped, ppid, os.Getpid())
	}
	r.setMode(t, "normal")
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	fgtest.WaitFor(t, 10*time.Second, "the escaped process to die with the gateway", func() bool { return gone(escaped) })
	st = r.wait(t, 30*time.Second, "a new gateway", func(s supervisor.Status) bool { return s.State == supervisor.Running && s.PID != 0 && s.PID != st.PID })
	// Only the new gateway is left: its tree is itself.
	if desc, _ := sockets.Descendants(os.Getpid()); len(desc) != 1 || desc[0] != st.PID {
		t.Errorf("descendants %v, want only the new gateway %d", desc, st.PID)
	}
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// TestTransientSpecErrorBacksOff: ENOSPC while preparing is retried with
// backoff and recovers; it never becomes failed.
func TestTransientSpecErrorBacksOff(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, rigOpts{spec: func(_ context.Context, s supervisor.Spec) (supervisor.Spec, error) {
		if calls.Add(1) <= 3 {
			return s, fmt.Errorf("writing openclaw.json: %w", &fs.PathError{Op: "write", Path: "/x/openclaw.json", Err: syscall.ENOSPC})
		}
		return s, nil
	}})
	sawBackoff := false
	fgtest.WaitFor(t, 30*time.Second, "running after the disk frees", func() bool {
		st := r.sup.Status()
		if st.State == supervisor.Failed {
			t.Fatalf("a transient error became failed: %s", st.Reason)
		}
		sawBackoff = sawBackoff || st.State == supervisor.Backoff && strings.Contains(st.Reason, "will retry")
		return st.State == supervisor.Running
	})
	if !sawBackoff && calls.Load() < 4 {
		t.Errorf("no backoff seen; Spec called %d times", calls.Load())
	}
}

// TestHangIsReplacedWithinWindow: from the hang to a new gateway process
// takes at most failures×interval + kill timeout (here 600ms + 200ms), plus
// slack for a loaded machine.
func TestHangIsReplacedWithinWindow(t *testing.T) {
	r := newRig(t, rigOpts{})
	st := r.wait(t, 30*time.Second, "running", func(st supervisor.Status) bool { return st.State == supervisor.Running })
	p := &fgtest.Process{Port: r.port, Token: fgtest.Token}
	t0 := time.Now()
	if code := p.Cue(t, "/__fake/hang"); code != 200 {
		t.Fatalf("hang cue: %d", code)
	}
	st2 := r.wait(t, 20*time.Second, "a replacement", func(s supervisor.Status) bool { return s.PID != 0 && s.PID != st.PID })
	took := time.Since(t0)
	if st2.LastExit == nil || !strings.Contains(st2.LastExit.Reason, "hung") {
		t.Fatalf("last exit %+v, want hung", st2.LastExit)
	}
	const window = 3*200*time.Millisecond + 200*time.Millisecond
	t.Logf("hang to replacement: %s (window %s)", took.Round(time.Millisecond), window)
	if took > window+2*time.Second {
		t.Errorf("hang to replacement took %s, want ≤ %s + 2s", took, window)
	}
}

// TestPauseResume: Pause stops the running gateway and starts none, even
// from a failed state, until Resume; a Pause asked while a start is being
// prepared starts nothing either.
func TestPauseResume(t *testing.T) {
	var slow atomic.Bool
	prepared := make(chan struct{}, 8)
	r := newRig(t, rigOpts{spec: func(_ context.Context, s supervisor.Spec) (supervisor.Spec, error) {
		if slow.Load() {
			prepared <- struct{}{}
			time.Sleep(300 * time.Millisecond) // a start still being prepared (npm)
		}
		return s, nil
	}})
	st := r.wait(t, 30*time.Second, "running", func(st supervisor.Status) bool { return st.State == supervisor.Running })
	first := st.PID

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.sup.Pause(ctx, "restore"); err != nil {
		t.Fatal(err)
	}
	if !gone(first) {
		t.Fatalf("pid %d still runs after Pause", first)
	}
	st = r.sup.Status()
	if st.State != supervisor.Paused || st.Reason != "restore" {
		t.Fatalf("status %v %q, want paused restore", st.State, st.Reason)
	}
	r.sup.Restart("a restart while paused")
	if err := r.sup.Pause(ctx, "again"); err != nil { // idempotent
		t.Fatal(err)
	}
	if st := r.sup.Status(); st.PID != 0 || st.State != supervisor.Paused {
		t.Fatalf("a restart while paused started pid %d (%v)", st.PID, st.State)
	}

	r.sup.Resume()
	st = r.wait(t, 30*time.Second, "running after Resume", func(st supervisor.Status) bool {
		return st.State == supervisor.Running && st.PID != first
	})

	// Paused in the middle of a start's preparation.
	slow.Store(true)
	r.sup.Restart("slow start")
	select {
	case <-prepared:
	case <-time.After(30 * time.Second):
		t.Fatal("no start was prepared")
	}
	if err := r.sup.Pause(ctx, "during prepare"); err != nil {
		t.Fatal(err)
	}
	// Pause returned after the prepared start gave way: nothing spawned.
	if st := r.sup.Status(); st.State != supervisor.Paused || st.PID != 0 {
		t.Fatalf("state %v pid %d after a pause during prepare, want paused and no process", st.State, st.PID)
	}
	slow.Store(false)
	r.sup.Resume()
	r.wait(t, 30*time.Second, "running after the second Resume", func(st supervisor.Status) bool { return st.State == supervisor.Running })
}

// TestExemptProcessSurvivesGatewayRestarts: a process the daemon starts
// through StartExempt (a scheduled backup) is neither killed as the
// gateway's leftover nor reaped behind its exec.Cmd's back.
func TestExemptProcessSurvivesGatewayRestarts(t *testing.T) {
	r := newRig(t, rigOpts{subreaper: true})
	st := r.wait(t, 30*time.Second, "running", func(st supervisor.Status) bool { return st.State == supervisor.Running })
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	done, err := r.sup.StartExempt(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := r.sup.VerifyListener(); err != nil {
		t.Fatal(err)
	}
	r.sup.Restart("test")
	r.wait(t, 30*time.Second, "a new gateway", func(s supervisor.Status) bool {
		return s.State == supervisor.Running && s.PID != st.PID
	})
	if gone(cmd.Process.Pid) {
		t.Fatal("the exempt process was killed with the gateway's leftovers")
	}
	_ = cmd.Process.Kill()
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Wait = %v, want the kill it saw (its status was not stolen)", err)
	}
}
