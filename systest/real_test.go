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
	"regexp"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/internal/nodemirror"
	"github.com/openclawd/openclawd/internal/pebbletest"
	"github.com/openclawd/openclawd/runtime/pins"
)

// envFile is the gateway's env file (gateway.env_file), shipped by the
// package root:openclawd 0640.
const envFile = "/etc/openclawd/gateway.env"

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
	realRT.once.Do(func() {
		lock, _ := os.ReadFile(filepath.Join(moduleRoot(tb), "runtime", "pins", "openclaw", "package-lock.json"))
		realRT.path, realRT.err = provisionRuntime(tb, deb, pins.OpenclawVersion, lock)
	})
	if realRT.err != nil {
		tb.Fatal(realRT.err)
	}
	return realRT.path
}

// provisionRuntime provisions, with the deb's openclawd, the openclaw it
// pins (openclaw; key names what decides the install, for the cache).
func provisionRuntime(tb testing.TB, deb, openclaw string, key []byte) (string, error) {
	dir := cacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	h := sha256.Sum256(fmt.Appendf(key, "\n%s %s %s", pins.NodeVersion, openclaw, goruntime.GOARCH))
	img := filepath.Join(dir, fmt.Sprintf("runtime-node%s-openclaw%s-%s.tar.zst", pins.NodeVersion, openclaw, hex.EncodeToString(h[:6])))
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
// and again after a reboot; then backed up, and restored into a fresh
// guest on the same network host, which gets the same token and
// certificate back without a new ACME order.
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
	var install, setup, reboot, backupTook, restoreToHealthy time.Duration
	var (
		token, archive string
		served         cert
		orders         int64
		kept           = t.TempDir() // the first guest's archive, config, CA root and env file
		keep           []keptFile
	)

	steps(t, m, []step{
		{"dpkg -i, then the runtime seeded", func(t *testing.T) {
			m.copyIn(pkgs.old, "/root/"+filepath.Base(pkgs.old), 0o644)
			start := time.Now()
			m.dpkgInstall(t, pkgs.old)
			// Stopped while seeding: an offline openclawd retries its download.
			m.must("systemctl", "stop", "openclawd")
			m.seedRuntime(rt)
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
		{"backup in the guest", func(t *testing.T) {
			token = m.must("openclawd", "token")
			if token == "" {
				t.Fatal("openclawd token printed nothing")
			}
			var err error
			if served, err = fe.get(); err != nil {
				t.Fatalf("https before the backup: %v", err)
			}
			if orders = ca.Orders(); orders < 1 {
				t.Errorf("Pebble saw no order")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			start := time.Now()
			out, err := m.gCtx(ctx, nil, "openclawd", "backup")
			backupTook = time.Since(start)
			if err != nil {
				t.Fatalf("openclawd backup: %v\n%s", err, out)
			}
			names, _ := filepath.Glob(filepath.Join(m.hostPath(stateDir+"/backups"), "openclawd-backup-*.tar"))
			if len(names) == 0 {
				t.Fatalf("no openclawd-backup-*.tar in %s/backups after the backup:\n%s", stateDir, out)
			}
			sort.Strings(names) // named by their time: the newest is last
			archive = filepath.Base(names[len(names)-1])
			for _, want := range []string{archive, "the gateway token", "Caddy's certificates"} {
				if !strings.Contains(out, want) {
					t.Errorf("the backup's report does not mention %q:\n%s", want, out)
				}
			}
			cfg, err := m.readFile(config)
			if err != nil {
				t.Fatal(err)
			}
			// setup keeps its own copy of the CA root it was given.
			root := regexp.MustCompile(`(?m)^\s*acme_ca_root:\s*"?([^"\s]+)`).FindSubmatch(cfg)
			if root == nil {
				t.Fatalf("%s names no tls.acme_ca_root:\n%s", config, cfg)
			}
			// What an operator keeps off the host, with owners and modes.
			for _, f := range []struct{ src, dst string }{
				{stateDir + "/backups/" + archive, "/root/" + archive}, {config, config}, {string(root[1]), string(root[1])}, {envFile, envFile},
			} {
				b, err := m.readFile(f.src)
				if f.src == envFile && os.IsNotExist(err) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				// The archive goes in as root's, as scp would put it; the
				// rest as setup and the package left them.
				k := keptFile{dst: f.dst, host: filepath.Join(kept, filepath.Base(f.src)), owner: "root:root", mode: "600"}
				if f.src == f.dst {
					if k.owner, k.mode, _ = strings.Cut(m.must("stat", "-c", "%U:%G %a", f.src), " "); k.mode == "" {
						t.Fatalf("stat %s: no mode", f.src)
					}
				}
				if err := os.WriteFile(k.host, b, 0o600); err != nil {
					t.Fatal(err)
				}
				keep = append(keep, k)
			}
		}},
		{"a fresh guest gets the same bot back", func(t *testing.T) {
			m.teardown()
			if t.Failed() {
				t.FailNow()
			}
			removeTree(filepath.Dir(m.root)) // its cleanup finds it gone
			start := time.Now()
			m2 := newMachine(t, nw.srv)
			m2.boot()
			if err := m2.waitRunning("", 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			m2.copyIn(pkgs.old, "/root/"+filepath.Base(pkgs.old), 0o644)
			m2.dpkgInstall(t, pkgs.old)
			m2.must("systemctl", "stop", "openclawd")
			m2.seedRuntime(rt)
			for _, k := range keep {
				m2.copyIn(k.host, k.dst, 0o600)
				m2.must("chown", k.owner, k.dst)
				m2.must("chmod", k.mode, k.dst)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			// /root is root's alone: openclawd hands the archive over to the
			// service user it restores as.
			out, err := m2.gCtx(ctx, nil, "openclawd", "restore", "/root/"+archive)
			if err != nil {
				t.Fatalf("openclawd restore /root/%s as root: %v\n%s", archive, err, out)
			}
			if !strings.Contains(out, "openclawd is not running: start it") {
				t.Errorf("restore on a stopped openclawd does not say the next start is the health gate:\n%s", out)
			}
			if out, err := m2.gCtx(ctx, nil, "systemctl", "start", "openclawd"); err != nil {
				t.Fatalf("systemctl start openclawd on the restored state: %v\n%s", err, out)
			}
			m2.waitHealthy("the real gateway on the restored state", 3*time.Minute, nil)
			c := fe.waitCert(t, time.Minute)
			restoreToHealthy = time.Since(start)
			if got := m2.must("openclawd", "token"); got != token {
				t.Errorf("gateway token after the restore %q, was %q", got, token)
			}
			if c != served {
				t.Errorf("certificate after the restore %+v, was %+v", c, served)
			}
			if n := ca.Orders(); n != orders {
				t.Errorf("Pebble has %d orders, had %d: the restored guest ordered its certificate again", n, orders)
			}
			// The gate commits once the gateway is healthy, in the background.
			journal := m2.hostPath(stateDir + "/restore/journal.json")
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
				_, err := os.Stat(journal)
				if os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					log, _ := m2.g("journalctl", "--no-pager", "-q", "-o", "cat", "-u", "openclawd")
					t.Fatalf("%s/restore/journal.json is still there a minute after healthy (%v):\n%s", stateDir, err, tail(log, 30))
				}
			}
			if log := m2.must("journalctl", "--no-pager", "-q", "-o", "cat", "-u", "openclawd"); !strings.Contains(log, "restore passed its health gate") {
				t.Errorf("openclawd's journal does not say the restore passed its health gate:\n%s", tail(log, 30))
			}
		}},
	})
	t.Logf("figures (real gateway): boot to running %v; dpkg -i + runtime seed %v; setup to healthy %v; reboot to healthy %v; backup %v; fresh guest boot to healthy on the restore %v",
		bootToRunning.Round(time.Millisecond), install.Round(time.Millisecond), setup.Round(time.Millisecond), reboot.Round(time.Millisecond),
		backupTook.Round(time.Millisecond), restoreToHealthy.Round(time.Millisecond))
}

// keptFile is a file from the first guest, kept on the host for the
// fresh one: where it goes, with what owner and mode.
type keptFile struct{ dst, host, owner, mode string }

// seedRuntime unpacks the provisioned runtime into the guest's state dir
// (openclawd stopped: offline, it would retry its download).
func (m *machine) seedRuntime(rt string) {
	m.t.Helper()
	dst := m.hostPath(stateDir + "/runtime")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		m.t.Fatal(err)
	}
	if out, err := exec.Command("tar", "--numeric-owner", "-I", "zstd", "-C", dst, "-xpf", rt).CombinedOutput(); err != nil {
		m.t.Fatalf("seeding the runtime: %v\n%s", err, out)
	}
	m.must("chown", "-R", "openclawd:openclawd", stateDir+"/runtime")
}
