package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/nodemirror"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/pins"
)

// The real gateway: Node and openclaw from the npm registry, through a
// local mirror with the official Node layout (this machine cannot reach
// the official site). One mirror serves every test in the package.
var mirror struct {
	once sync.Once
	url  string
	sum  string
	err  error
}

func nodeMirror(t testing.TB) (url, sha string) {
	t.Helper()
	mirror.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		m, err := nodemirror.Build(ctx, nodemirror.DefaultCacheDir(), pins.NodeVersion, pins.NPMVersion, func(f string, a ...any) { t.Logf(f, a...) })
		if err != nil {
			mirror.err = err
			return
		}
		arch, _ := nodemirror.Arch(goruntime.GOARCH)
		mirror.sum = m.Files[nodemirror.TarballName(pins.NodeVersion, arch)]
		mirror.url, _, mirror.err = nodemirror.Serve(m) // lives as long as the test binary
	})
	if mirror.err != nil {
		t.Fatalf("building the Node mirror: %v", mirror.err)
	}
	return mirror.url, mirror.sum
}

// newRealInstance is an openclawd with no gateway.command: it provisions
// Node and openclaw into an empty state dir and runs the real gateway.
// It starts as root, as `sudo openclawd run` does: openclawd, npm and the
// gateway must all run as the service user (nobody).
func newRealInstance(t testing.TB) *instance {
	url, sum := nodeMirror(t)
	in := newInstance(t, opts{noStart: true, asRoot: true, health: `health:
  startup_timeout: 3m
  startup_interval: 100ms
  interval: 2s
  timeout: 2s
  failures: 3
  deep_interval: 10s
  kill_timeout: 5s
`, extraCfg: fmt.Sprintf(`node:
  mirror: %s
  sha256: %s
`, url, sum)})
	// Drop the fake: write a config without gateway.command.
	b, _ := os.ReadFile(in.cfg)
	var kept []string
	skip := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "  command:"):
			continue
		case strings.HasPrefix(l, "  env:"):
			skip = true
			continue
		case skip && strings.HasPrefix(l, "    "):
			continue
		}
		skip = false
		kept = append(kept, l)
	}
	if err := os.WriteFile(in.cfg, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(in.dir, "state")
	t.Cleanup(func() { chmodTree(state) }) // installs are read-only; let RemoveAll through
	return in
}

func chmodTree(dir string) {
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

func TestRealGateway(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: npm runs as the unprivileged install user")
	}
	in := newRealInstance(t)
	in.start()

	t.Run("provisions and becomes healthy", func(t *testing.T) {
		in.t = t
		st, _ := in.waitStatus("a healthy real gateway with hello-ok and a health reply on the WebSocket", 8*time.Minute,
			func(s apitype.Status, rc int) bool {
				return rc == 0 && s.Healthy && s.Health.Deep.HelloOK && s.Health.Deep.LastHealth != nil
			})
		if st.Health.Version != pins.OpenclawVersion {
			t.Errorf("health %+v; want version %s", st.Health, pins.OpenclawVersion)
		}
		if st.Gateway.TreeRSS == 0 {
			t.Error("no RSS reported for the gateway")
		}
		// Started as root, yet neither openclawd nor the gateway is root.
		for what, pid := range map[string]int{"openclawd": st.PID, "gateway": st.Gateway.PID} {
			if uid := processUID(t, pid); uid != serviceIDs.uid {
				t.Errorf("%s (pid %d) runs as uid %d; want %d (%s)", what, pid, uid, serviceIDs.uid, serviceUser)
			}
		}
		runtime := filepath.Join(in.dir, "state", "runtime")
		platform, _ := node.Platform()
		for _, p := range []string{
			"node-" + pins.NodeVersion + "-" + platform + "/bin/node",
			"openclaw-" + pins.OpenclawVersion + "/node_modules/openclaw/openclaw.mjs",
			"current.json",
		} {
			if _, err := os.Stat(filepath.Join(runtime, p)); err != nil {
				t.Errorf("runtime lacks %s: %v", p, err)
			}
		}
		out, rc := in.cli("runtime", "list", "--config", in.cfg)
		if rc != 0 || strings.Count(out, "current") != 2 {
			t.Errorf("runtime list (rc %d):\n%s", rc, out)
		}
		if len(st.Gateway.Runtime) != 2 {
			t.Errorf("status names runtime %v; want node and openclaw dirs", st.Gateway.Runtime)
		}
		// The whole state dir is the service user's and 0700: started as
		// root, openclawd handed it over and ran everything as nobody.
		for _, p := range []string{"", "secrets", "logs", "openclaw", "runtime"} {
			fi, err := os.Stat(filepath.Join(in.dir, "state", p))
			if err != nil || fi.Mode().Perm() != 0o700 || int(fi.Sys().(*syscall.Stat_t).Uid) != serviceIDs.uid {
				t.Errorf("state/%s: %v (%v); want 0700 and the service user's", p, fi.Mode(), err)
			}
		}
		// Installed trees are read-only (a slip cannot change the code),
		// and nothing in them is root's.
		launcher := filepath.Join(runtime, "openclaw-"+pins.OpenclawVersion, "node_modules", "openclaw", "openclaw.mjs")
		if fi, err := os.Stat(launcher); err != nil || fi.Mode().Perm()&0o222 != 0 || int(fi.Sys().(*syscall.Stat_t).Uid) != serviceIDs.uid {
			t.Errorf("launcher %v: mode %v; want read-only and the service user's", err, fi.Mode())
		}
		out, rc = in.cli("runtime", "prune", "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "nothing to prune") {
			t.Errorf("prune while running removed something or failed (rc %d):\n%s", rc, out)
		}
	})

	t.Run("kill -9 is recovered", func(t *testing.T) {
		in.t = t
		st, _ := in.status()
		old := st.Gateway.PID
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		in.waitStatus("a new healthy gateway", 3*time.Minute, func(s apitype.Status, rc int) bool {
			return rc == 0 && s.Healthy && s.Gateway.PID != old
		})
	})

	t.Run("an unknown key in openclaw.json fails once, with the gateway's message", func(t *testing.T) {
		in.t = t
		gw := filepath.Join(in.dir, "state", "openclaw", "openclaw.json")
		b, err := os.ReadFile(gw)
		if err != nil {
			t.Fatal(err)
		}
		bad := strings.Replace(string(b), "{", "{\n  \"openclawdBogusKey\": true,", 1)
		if err := os.WriteFile(gw, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, rc := in.cli("restart", "--socket", in.sock); rc != 0 {
			t.Fatalf("restart: %s", out)
		}
		st, rc := in.waitStatus("failed", 3*time.Minute, func(s apitype.Status, _ int) bool {
			return s.Gateway.State == "failed"
		})
		if rc != 1 || st.Gateway.Code != "config_invalid" || !strings.Contains(st.Gateway.Reason, "openclawdBogusKey") {
			t.Errorf("rc %d gateway %+v; want failed, config_invalid, naming the key", rc, st.Gateway)
		}
		restarts := st.Gateway.Restarts
		// The fix ends `failed` by itself: openclawd watches openclaw.json.
		if err := os.WriteFile(gw, b, 0o600); err != nil {
			t.Fatal(err)
		}
		st, _ = in.waitStatus("healthy after the fix", 3*time.Minute, func(s apitype.Status, rc int) bool {
			return rc == 0 && s.Healthy
		})
		if st.Gateway.Restarts != restarts+1 {
			t.Errorf("restarts went from %d to %d; want exactly one start after the fix (no respawn storm)", restarts, st.Gateway.Restarts)
		}
		if n := strings.Count(in.stderr.String(), "gateway failed;"); n != 1 {
			t.Errorf("the failure was logged %d times; want once", n)
		}
	})

	t.Run("SIGTERM stops cleanly", func(t *testing.T) {
		in.t = t
		st, _ := in.status()
		if rc := in.stop(); rc != 0 {
			t.Errorf("openclawd exit %d", rc)
		}
		if alive(st.Gateway.PID) {
			t.Errorf("gateway %d survived", st.Gateway.PID)
		}
		if !strings.Contains(in.stderr.String(), "completed cleanly") {
			t.Error("the gateway did not report a clean shutdown")
		}
	})

	// The same state, now behind Caddy on a network host of its own, with a
	// certificate from an ACME CA: remote clients get the real gateway's
	// answers (§13), and new devices must pair.
	t.Run("through Caddy from another host", func(t *testing.T) {
		in.t = t
		fe := newFrontEnd(t, true)
		b, err := os.ReadFile(in.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in.cfg, append(b, "\n"+fe.tlsConfig()...), 0o644); err != nil {
			t.Fatal(err)
		}
		// The runtime is installed already: nothing to fetch from inside
		// the namespace, which has no route out.
		in.netns = fe.srv
		in.start(fe.env()...)
		st := fe.waitServed(t, in)
		if !st.Healthy || st.Health.Version != pins.OpenclawVersion {
			t.Errorf("status %+v; want the real gateway, healthy", st.Health)
		}
		fe.checkAuthThroughProxy(t, in)
	})
}
