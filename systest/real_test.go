//go:build systest && linux

package systest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/internal/nodemirror"
	"github.com/openclawd/openclawd/internal/pebbletest"
	"github.com/openclawd/openclawd/runtime/pins"
)

var realRT struct {
	once sync.Once
	path string
	err  error
}

// realRuntime returns a tarball of a provisioned runtime/ tree (pinned
// Node and openclaw, current.json). The guest has no route out, so it is
// seeded with this. It is provisioned once, on the host, by the packaged
// openclawd (`runtime install`) from the local Node mirror and the npm
// registry, and cached by the pins.
func realRuntime(tb testing.TB, deb string) string {
	tb.Helper()
	realRT.once.Do(func() { realRT.path, realRT.err = provisionRuntime(tb, deb) })
	if realRT.err != nil {
		tb.Fatal(realRT.err)
	}
	return realRT.path
}

func provisionRuntime(tb testing.TB, deb string) (string, error) {
	dir := cacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, _ := os.ReadFile(filepath.Join(moduleRoot(tb), "runtime", "pins", "openclaw", "package-lock.json"))
	h := sha256.Sum256(fmt.Appendf(lock, "\n%s %s %s", pins.NodeVersion, pins.OpenclawVersion, goruntime.GOARCH))
	img := filepath.Join(dir, fmt.Sprintf("runtime-node%s-openclaw%s-%s.tar.zst", pins.NodeVersion, pins.OpenclawVersion, hex.EncodeToString(h[:6])))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cacheLock, err := fsutil.Acquire(ctx, filepath.Join(dir, "runtime.lock"), nil)
	if err != nil {
		return "", err
	}
	defer cacheLock.Unlock()
	if fi, err := os.Stat(img); err == nil && fi.Size() > 0 {
		return img, nil
	}
	start := time.Now()
	m, err := nodemirror.Build(ctx, nodemirror.DefaultCacheDir(), pins.NodeVersion, pins.NPMVersion, tb.Logf)
	if err != nil {
		return "", err
	}
	url, closeMirror, err := nodemirror.Serve(m)
	if err != nil {
		return "", err
	}
	defer closeMirror()
	arch, _ := nodemirror.Arch(goruntime.GOARCH)
	// On tmpfs, 0755: npm runs as nobody and must reach the state dir.
	work, err := os.MkdirTemp(workDir(tb), "runtime-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	os.Chmod(work, 0o755)
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, filepath.Join(work, "pkg")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb -x: %v\n%s", err, out)
	}
	cfg := filepath.Join(work, "openclawd.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "state_dir: %s/state\nnode:\n  mirror: %s\n  sha256: %s\nopenclaw:\n  install_user: nobody\ncontrol:\n  socket: %s/ctl.sock\n  group: \"\"\n",
		work, url, m.Files[nodemirror.TarballName(pins.NodeVersion, arch)], work), 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(work, "pkg", "usr", "bin", "openclawd"), "runtime", "install", "--config", cfg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("openclawd runtime install: %v\n%s", err, tail(string(out), 30))
	}
	rt := filepath.Join(work, "state", "runtime")
	if _, err := os.Stat(filepath.Join(rt, "current.json")); err != nil {
		return "", fmt.Errorf("runtime install left no current.json: %v", err)
	}
	tmp := img + ".tmp"
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-I", "zstd -T0", "--exclude=./.npm-cache", "--exclude=./.lock",
		"-C", rt, "-cf", tmp, ".").CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("tar: %v\n%s", err, out)
	}
	tb.Logf("real runtime: provisioned and packed in %v", time.Since(start).Round(time.Second))
	// The installed trees are read-only: let RemoveAll through.
	filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return img, os.Rename(tmp, img)
}

// TestPackageRealGateway is scenario B, one pass: the .deb with the real
// Node and openclaw, seeded into the offline guest, healthy after setup
// and again after a reboot.
func TestPackageRealGateway(t *testing.T) {
	needSystem(t)
	t.Parallel()
	pkgs := buildDebs(t)
	rt := realRuntime(t, pkgs.old)
	nw := newNetwork(t)
	ca := pebbletest.Start(t, pebbletest.Options{Host: nw.acme, DefaultIPv4: nw.srv.IP.String()})
	fe := frontEnd{cli: nw.cli, srvIP: nw.srv.IP.String(), name: domain}
	m := newMachine(t, nw.srv)
	start := time.Now()
	m.boot()
	if err := m.waitRunning("", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	bootToRunning := time.Since(start)
	var install, setup, reboot time.Duration

	steps(t, m, []step{
		{"dpkg -i, then the runtime seeded", func(t *testing.T) {
			m.copyIn(pkgs.old, "/root/"+filepath.Base(pkgs.old), 0o644)
			start := time.Now()
			m.dpkgInstall(t, pkgs.old)
			// Stopped while seeding: an offline openclawd retries its download.
			m.must("systemctl", "stop", "openclawd")
			dst := m.hostPath(stateDir + "/runtime")
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("tar", "--numeric-owner", "-I", "zstd", "-C", dst, "-xpf", rt).CombinedOutput(); err != nil {
				t.Fatalf("seeding the runtime: %v\n%s", err, out)
			}
			m.must("chown", "-R", "openclawd:openclawd", stateDir+"/runtime")
			install = time.Since(start)
		}},
		{"setup brings up the real gateway behind HTTPS", func(t *testing.T) {
			m.copyIn(ca.APIRootFile, caRoot, 0o644)
			start := time.Now()
			out, err := m.setup(ca.CAURL, caRoot, "2m")
			setup = time.Since(start)
			if err != nil {
				t.Fatalf("setup: %v\n%s", err, out)
			}
			st, rc, err := m.status()
			if rc != 0 || !st.Healthy || st.Health.Version != pins.OpenclawVersion {
				t.Fatalf("status: rc %d %v; healthy %t, gateway version %q, want %s", rc, err, st.Healthy, st.Health.Version, pins.OpenclawVersion)
			}
			if exe, _ := m.g("readlink", fmt.Sprintf("/proc/%d/exe", st.Gateway.PID)); filepath.Base(exe) != "node" {
				t.Errorf("the gateway (pid %d) runs %q, not node", st.Gateway.PID, exe)
			}
			fe.roots = poolOf(t, ca.IssuingRoot(t))
			fe.waitCert(t, time.Minute)
		}},
		{"healthy again after a reboot, with no command", func(t *testing.T) {
			start := time.Now()
			m.reboot()
			m.waitHealthy("the real gateway after a reboot", 3*time.Minute, nil)
			reboot = time.Since(start)
			if _, err := fe.get(); err != nil {
				t.Errorf("https after the reboot: %v", err)
			}
		}},
	})
	t.Logf("figures (real gateway): boot to running %v; dpkg -i + runtime seed %v; setup to healthy %v; reboot to healthy %v",
		bootToRunning.Round(time.Millisecond), install.Round(time.Millisecond), setup.Round(time.Millisecond), reboot.Round(time.Millisecond))
}
