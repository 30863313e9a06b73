// Package e2e runs the real openclawd binary against the fake gateway
// (internal/fakegateway), which speaks the gateway's real HTTP and
// WebSocket protocol and crashes, hangs or floods on cue.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/internal/testnet"
	"github.com/openclawd/openclawd/localapi/apitype"
)

var bins struct {
	openclawd, fake string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "openclawd-e2e-bin")
	if err != nil {
		panic(err)
	}
	// openclawd runs as the service user (nobody here): it must reach both.
	if err := os.Chmod(dir, 0o755); err != nil {
		panic(err)
	}
	bins.openclawd = filepath.Join(dir, "openclawd")
	bins.fake = filepath.Join(dir, "fakegateway")
	for pkg, out := range map[string]string{"../cmd/openclawd": bins.openclawd, "../internal/fakegateway/cmd/fakegateway": bins.fake} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			os.Exit(1)
		}
	}
	rc := m.Run()
	os.RemoveAll(dir)
	os.Exit(rc)
}

// instance is one openclawd process with its own state dir, socket and port.
type instance struct {
	t        testing.TB
	dir      string
	cfg      string
	sock     string
	port     int
	events   string
	envDump  string
	modeFile string
	cmd      *exec.Cmd
	stderr   *fgtest.SyncBuffer
	exited   chan struct{}
	netns    *testnet.Host // nil: the test's own network namespace
	asRoot   bool          // openclawd was started as root (and switched users itself)
}

type opts struct {
	mode     string            // first start's fake mode
	extraCfg string            // appended YAML
	env      []string          // openclawd's own extra environment
	gwEnv    map[string]string // extra gateway.env
	noStart  bool
	health   string        // replaces the health: block (benchmarks use the defaults)
	netns    *testnet.Host // run openclawd in this namespace (started as root, it drops to user)
	// asRoot starts openclawd as root, which then runs as the service user
	// through its own re-exec (`sudo openclawd run`); by default it starts
	// as that user, as the packaged unit's User= does.
	asRoot bool
	user   string // the service user (default nobody)
}

// serviceUser is the account the e2e tests run openclawd and the gateway as.
const serviceUser = "nobody"

// serviceIDs are nobody's uid and gid.
var serviceIDs = struct{ uid, gid int }{65534, 65534}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const testHealth = `health:
  startup_timeout: 20s
  startup_interval: 50ms
  interval: 150ms
  timeout: 300ms
  failures: 3
  deep_interval: 500ms
  kill_timeout: 1s
`

// newInstance writes a config for a fresh openclawd and, unless noStart,
// starts it. Intervals are short so that tests run fast; waits are
// conditions with deadlines.
func newInstance(t testing.TB, o opts) *instance {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocd") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The service user owns the instance's directory: its socket, state
	// and the fake's event files are created there by that user.
	if err := os.Chown(dir, serviceIDs.uid, serviceIDs.gid); err != nil {
		t.Fatal(err)
	}
	in := &instance{asRoot: o.asRoot || o.netns != nil, t: t, dir: dir, port: freePort(t),
		sock: filepath.Join(dir, "ctl.sock"), cfg: filepath.Join(dir, "openclawd.yaml"),
		events: filepath.Join(dir, "events"), envDump: filepath.Join(dir, "env.json"),
		modeFile: filepath.Join(dir, "mode"), netns: o.netns}
	in.setMode(o.mode)
	env := map[string]string{
		"FAKE_GATEWAY_MODE_FILE":  in.modeFile,
		"FAKE_GATEWAY_EVENTS":     in.events,
		"FAKE_GATEWAY_ENV_DUMP":   in.envDump,
		"FAKE_GATEWAY_STARTUP_MS": "100",
		"FAKE_GATEWAY_TICK_MS":    "200",
	}
	for k, v := range o.gwEnv {
		env[k] = v
	}
	health := o.health
	if health == "" {
		health = testHealth
	}
	var envYAML strings.Builder
	for k, v := range env {
		fmt.Fprintf(&envYAML, "    %s: %q\n", k, v)
	}
	user := o.user
	if user == "" {
		user = serviceUser
	}
	cfg := fmt.Sprintf(`state_dir: %s/state
user: %s
gateway:
  port: %d
  command: [%q, "gateway", "run", "--bind", "loopback"]
  stop_timeout: 5s
  env:
%srestart:
  min_delay: 200ms
  max_delay: 1s
%scontrol:
  socket: %s
  group: ""
%s`, dir, user, in.port, bins.fake, envYAML.String(), health, in.sock, o.extraCfg)
	if err := os.WriteFile(in.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if !o.noStart {
		in.start(o.env...)
	}
	return in
}

func (in *instance) setMode(mode string) {
	if err := os.WriteFile(in.modeFile, []byte(mode+"\n"), 0o644); err != nil {
		in.t.Fatal(err)
	}
}

func (in *instance) start(env ...string) {
	in.t.Helper()
	in.stderr = &fgtest.SyncBuffer{}
	argv := []string{bins.openclawd, "run", "--config", in.cfg}
	if in.netns != nil {
		argv = in.netns.Wrap(argv...) // ip netns exec: the pid is still openclawd's
	}
	in.cmd = exec.Command(argv[0], argv[1:]...)
	in.cmd.Env = append(os.Environ(), env...)
	in.cmd.Stderr = in.stderr
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !in.asRoot {
		// What a test planted in the state dir as root stands for what the
		// service user left there: hand it over, as `sudo openclawd …` would.
		_ = filepath.Walk(filepath.Join(in.dir, "state"), func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				_ = os.Lchown(p, serviceIDs.uid, serviceIDs.gid)
			}
			return nil
		})
		in.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(serviceIDs.uid), Gid: uint32(serviceIDs.gid), Groups: []uint32{}}
		in.cmd.Env = append(in.cmd.Env, "HOME="+in.dir, "XDG_DATA_HOME="+filepath.Join(in.dir, "state", "caddy-xdg"))
	}
	if err := in.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.exited = make(chan struct{})
	go func() { _ = in.cmd.Wait(); close(in.exited) }()
	in.t.Cleanup(func() {
		select {
		case <-in.exited:
			return
		default:
		}
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
			<-in.exited
		}
		if in.t.Failed() {
			in.t.Logf("openclawd stderr:\n%s", in.stderr.String())
		}
	})
}

// stop sends SIGTERM and returns openclawd's exit code.
func (in *instance) stop() int {
	in.t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(30 * time.Second):
		in.t.Fatalf("openclawd did not exit within 30s of SIGTERM\n%s", in.stderr.String())
	}
	return in.cmd.ProcessState.ExitCode()
}

// status runs `openclawd status --json` and returns the JSON and exit code.
func (in *instance) status() (apitype.Status, int) {
	in.t.Helper()
	out, rc := in.cli("status", "--json", "--socket", in.sock)
	var st apitype.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		in.t.Fatalf("status --json printed %q: %v", out, err)
	}
	return st, rc
}

func (in *instance) cli(args ...string) (string, int) {
	in.t.Helper()
	cmd := exec.Command(bins.openclawd, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		in.t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// waitStatus polls status until cond holds, failing at the deadline.
func (in *instance) waitStatus(what string, d time.Duration, cond func(apitype.Status, int) bool) (apitype.Status, int) {
	in.t.Helper()
	deadline := time.Now().Add(d)
	var st apitype.Status
	var rc int
	for {
		st, rc = in.status()
		if cond(st, rc) {
			return st, rc
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			in.t.Fatalf("waiting %s for %s; last status (rc %d):\n%s\nstderr:\n%s", d, what, rc, b, in.stderr.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a condition wait, not a fixed delay
	}
}

func (in *instance) waitHealthy() apitype.Status {
	in.t.Helper()
	st, _ := in.waitStatus("a healthy gateway", 30*time.Second, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Gateway.PID > 0
	})
	return st
}

// eventLines reads the fake's event log ("start pid=N", "exit pid=N code=C").
func (in *instance) eventLines(prefix string) []string {
	f, err := os.Open(in.events)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			out = append(out, sc.Text())
		}
	}
	return out
}

func (in *instance) token() string {
	b, err := os.ReadFile(filepath.Join(in.dir, "state", "secrets", "gateway-token"))
	if err != nil {
		in.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// cue posts an on-cue command to the fake gateway.
func (in *instance) cue(path string) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/__fake/%s", in.port, path), nil)
	req.Header.Set("X-Fake-Token", in.token())
	hc := http.DefaultClient
	if in.netns != nil { // the gateway's loopback is the namespace's
		hc = &http.Client{Transport: &http.Transport{DialContext: in.netns.DialContext}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// exit cues may close the connection before answering
		in.t.Logf("cue %s: %v", path, err)
		return
	}
	resp.Body.Close()
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || len(b) < i+3 || b[i+2] != 'Z'
}
