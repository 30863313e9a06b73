//go:build systest && linux

package systest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config/edit"
	"github.com/openclawd/openclawd/internal/pebbletest"
	"github.com/openclawd/openclawd/internal/testnet"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/service"
)

const (
	domain   = "openclawd.example.com" // not localhost or an IP: those always get Caddy's internal CA
	config   = "/etc/openclawd/openclawd.yaml"
	stateDir = "/var/lib/openclawd"
	// Pebble's own HTTPS certificate, for --acme-ca-root: where an admin
	// would have it (root only, and hidden from the service by
	// ProtectHome), and a copy the service can read.
	caRootPrivate = "/root/pebble-ca.pem"
	caRoot        = "/usr/local/share/pebble-ca.pem"
	fakeInVM      = "/usr/local/bin/fakegateway"
	userData      = stateDir + "/openclaw/systest-user-data.json" // stands in for the gateway's own state
	reboots       = 3
	dpkgBound     = 30 * time.Second // dpkg -i should take ~1 s; it must not wait for a download
)

// figures are the scenario's measurements, logged at the end.
type figures struct {
	bootToRunning, installAndSetup, firstCert, killRecovery time.Duration
	rebootToHealthy                                         []time.Duration
}

// TestPackageFakeGateway is scenario A: the .deb in a booted Debian 12
// with the fake gateway, HTTPS from Pebble, reboots, kill -9, and the
// package's life cycle.
func TestPackageFakeGateway(t *testing.T) {
	needSystem(t)
	t.Parallel()
	pkgs := buildDebs(t)
	fake := fakeGatewayBinary(t)
	nw := newNetwork(t)
	ca := pebbletest.Start(t, pebbletest.Options{Host: nw.acme, DefaultIPv4: nw.srv.IP.String()})
	fe := frontEnd{cli: nw.cli, srvIP: nw.srv.IP.String(), name: domain}
	m := newMachine(t, nw.srv)
	var fig figures
	start := time.Now()
	m.boot()
	if err := m.waitRunning("", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	fig.bootToRunning = time.Since(start)

	var (
		first          cert
		sums           map[string]string
		orders         int64
		localConfig    []byte
		caRootUsed     string // set once a setup succeeded with it
		token          string
		stateDirsToSum = []string{stateDir + "/secrets", stateDir + "/openclaw", stateDir + "/caddy/certificates"}
	)
	// assertSame is what every reboot, restart and upgrade must keep.
	assertSame := func(t *testing.T) {
		c, err := fe.get()
		if err != nil {
			t.Fatalf("https from the client host: %v", err)
		}
		if c != first {
			t.Errorf("certificate changed: %+v, was %+v", c, first)
		}
		if n := ca.Orders(); n != orders {
			t.Errorf("Pebble has %d orders, had %d: the certificate was ordered again", n, orders)
		}
		if d := diffSums(sums, m.stateSums(stateDirsToSum...)); len(d) > 0 {
			t.Errorf("state files changed: %v", d)
		}
		if err := fe.wss(token); err != nil {
			t.Errorf("wss:// handshake: %v", err)
		}
	}

	steps(t, m, []step{
		{"dpkg -i installs, enables and starts openclawd without waiting for the network", func(t *testing.T) {
			m.copyIn(pkgs.old, "/root/"+filepath.Base(pkgs.old), 0o644)
			m.copyIn(fake, fakeInVM, 0o755)
			start := time.Now()
			hung := m.dpkgInstall(t, pkgs.old)
			fig.installAndSetup = time.Since(start)
			if out := m.must("systemctl", "is-enabled", "openclawd"); out != "enabled" {
				t.Errorf("is-enabled: %s", out)
			}
			// postinst's statoverride: the service reads its API keys
			// through its group and cannot change them.
			if out := m.must("stat", "-c", "%U:%G %a", "/etc/openclawd/gateway.env"); out != "root:openclawd 640" {
				t.Errorf("/etc/openclawd/gateway.env is %s, want root:openclawd 640", out)
			}
			// Offline, the runtime download fails: openclawd runs (activating
			// until the gateway is healthy: READY=1 waits for it), nothing failed.
			if out, _ := m.g("systemctl", "is-active", "openclawd"); out != "active" && out != "activating" && !hung {
				t.Errorf("after dpkg -i the unit is %q, want active or activating", out)
			}
			if out, err := m.g("systemd-analyze", "verify", "openclawd.service"); err != nil || out != "" {
				t.Errorf("systemd-analyze verify: %v %s", err, out)
			}
		}},
		{"gateway.command runs the fake gateway", func(t *testing.T) {
			b, err := m.readFile(config)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err = edit.Apply(b, edit.Edit{Key: "gateway.command", Value: []string{fakeInVM, "gateway", "run"}})
			if err != nil {
				t.Fatal(err)
			}
			// The guest has no DNS: the self-check dials the host's own
			// address, as it would a name resolving to it.
			if b, _, err = edit.Apply(b, edit.Edit{Key: "tls.check_address", Value: testnet.Server}); err != nil {
				t.Fatal(err)
			}
			// The guest trusts Pebble's issuing root, as a host using a
			// private ACME CA would: the self-check verifies the served chain.
			m.writeFile("/usr/local/share/ca-certificates/pebble-root.crt", ca.IssuingRoot(t), 0o644)
			m.must("update-ca-certificates")
			m.writeFile(config, b, 0o640)
		}},
		{"setup takes a CA root only root can read, or refuses it at once", func(t *testing.T) {
			// Accepting it and then waiting for a service that cannot read
			// it (exit 1 after --wait, unit crash-looping) is the failure.
			m.copyIn(ca.APIRootFile, caRootPrivate, 0o600)
			start := time.Now()
			out, err := m.setup(ca.CAURL, caRootPrivate, "30s")
			switch rc := exitCode(err); {
			case rc == 0:
				caRootUsed = caRootPrivate
				fig.installAndSetup += time.Since(start)
			case rc == 78 && strings.Contains(err.Error(), caRootPrivate):
				t.Logf("setup refused %s: %v", caRootPrivate, err)
			default:
				t.Errorf("setup --acme-ca-root %s: %v\n%s", caRootPrivate, err, out)
			}
		}},
		{"setup with ACME from Pebble brings up the fake gateway", func(t *testing.T) {
			if caRootUsed == "" {
				m.copyIn(ca.APIRootFile, caRoot, 0o644)
				start := time.Now()
				out, err := m.setup(ca.CAURL, caRoot, "1m")
				fig.installAndSetup += time.Since(start)
				if err != nil {
					t.Fatalf("setup: %v\n%s", err, out)
				}
			}
			if out, err := m.g("systemctl", "is-active", "openclawd"); out != "active" {
				t.Errorf("is-active after setup: %q %v", out, err)
			}
			st, rc, err := m.status()
			if rc != 0 || !st.Healthy {
				t.Fatalf("status after setup: rc %d %v %+v", rc, err, st.Gateway)
			}
			if exe, _ := m.g("readlink", fmt.Sprintf("/proc/%d/exe", st.Gateway.PID)); exe != fakeInVM {
				t.Errorf("the gateway (pid %d) runs %q, not the fake", st.Gateway.PID, exe)
			}
			token = m.must("openclawd", "token")
			// The self-check, from inside the service's sandbox, through
			// its Caddy, as a remote client: ok.
			m.waitHealthy("a passing wss:// self-check", time.Minute, func(s apitype.Status) bool {
				return s.TLS != nil && len(s.TLS.Names) == 1 && s.TLS.Names[0].Check != nil && s.TLS.Names[0].Check.Code == "ok"
			})
		}},
		{"setup sized the unit's memory bounds; the gateway goes first under OOM", func(t *testing.T) {
			want := service.SizeMemory(service.HostRAM()) // the guest shares the host's kernel and RAM
			show := m.must("systemctl", "show", "openclawd", "-p", "MemoryMax", "-p", "MemoryHigh", "-p", "OOMScoreAdjust")
			for _, w := range []string{
				fmt.Sprintf("MemoryMax=%d", want.Max>>20<<20),
				fmt.Sprintf("MemoryHigh=%d", want.High>>20<<20),
				"OOMScoreAdjust=-100",
			} {
				if !strings.Contains(show, w) {
					t.Errorf("systemctl show lacks %q:\n%s", w, show)
				}
			}
			// (Whether the kernel enforces it depends on the guest's memory
			// controller, which this test host does not delegate: cgroup
			// v1. systemd has the unit's values, which is what we write.)
			if dropIn, err := m.g("cat", service.MemoryDropInPath); err != nil || !strings.Contains(dropIn, "Written by openclawd") {
				t.Errorf("%s: %v\n%s", service.MemoryDropInPath, err, dropIn)
			}
			st, _, _ := m.status()
			if adj, _ := m.g("cat", fmt.Sprintf("/proc/%d/oom_score_adj", st.Gateway.PID)); adj != "500" {
				t.Errorf("the gateway's oom_score_adj = %q, want 500", adj)
			}
			// -100 needs CAP_SYS_RESOURCE, which a container lacks (0 here);
			// what matters holds either way: the gateway goes first.
			if adj, _ := m.g("cat", fmt.Sprintf("/proc/%d/oom_score_adj", st.PID)); adj != "-100" && adj != "0" {
				t.Errorf("openclawd's oom_score_adj = %q, want -100 (0 in a container)", adj)
			}
		}},
		{"https and wss from the client host, verified against Pebble's root", func(t *testing.T) {
			fe.roots = poolOf(t, ca.IssuingRoot(t))
			start := time.Now()
			first = fe.waitCert(t, time.Minute)
			fig.firstCert = time.Since(start)
			orders = ca.Orders()
			if orders < 1 {
				t.Errorf("Pebble saw no order")
			}
			if err := fe.wss(token); err != nil {
				t.Errorf("wss:// handshake: %v", err)
			}
			m.must("sh", "-c", "printf '{\"sessions\":[\"%s\"]}' \"$(cat /proc/sys/kernel/random/uuid)\" >"+userData+
				" && chown openclawd:openclawd "+userData+" && chmod 600 "+userData)
			sums = m.stateSums(stateDirsToSum...)
		}},
		{fmt.Sprintf("%d reboots: healthy again by itself, same certificate and state", reboots), func(t *testing.T) {
			for i := 1; i <= reboots; i++ {
				start := time.Now()
				m.reboot()
				st := m.waitHealthy(fmt.Sprintf("reboot %d", i), time.Minute, nil)
				fig.rebootToHealthy = append(fig.rebootToHealthy, time.Since(start))
				if st.Gateway.PID == 0 {
					t.Errorf("reboot %d: no gateway pid", i)
				}
				assertSame(t)
			}
			boots := m.must("journalctl", "-q", "--list-boots", "--no-pager")
			if n := len(strings.Split(boots, "\n")); n != reboots+1 {
				t.Errorf("%d boots in the journal, want %d", n, reboots+1)
			}
			if out := m.must("journalctl", "-q", "--no-pager", "-b", "-1", "-u", "openclawd", "-o", "cat"); !strings.Contains(out, "openclawd starting") {
				t.Errorf("the previous boot's journal lacks openclawd's start:\n%s", tail(out, 10))
			}
		}},
		{"kill -9 of openclawd: systemd restarts it, no orphaned gateway", func(t *testing.T) {
			st, rc, _ := m.status()
			if rc != 0 {
				t.Fatalf("status rc %d before the kill", rc)
			}
			oldMain, oldGW := m.mainPID(), st.Gateway.PID
			if oldMain == 0 || oldGW == 0 {
				t.Fatalf("MainPID %d, gateway pid %d", oldMain, oldGW)
			}
			start := time.Now()
			m.must("kill", "-9", strconv.Itoa(oldMain))
			st = m.waitHealthy("recovery after kill -9", time.Minute, func(s apitype.Status) bool { return s.PID != oldMain })
			fig.killRecovery = time.Since(start)
			if main := m.mainPID(); main == oldMain || main != st.PID {
				t.Errorf("MainPID %d (was %d), status says openclawd is %d", main, oldMain, st.PID)
			}
			if _, err := m.g("test", "-e", fmt.Sprintf("/proc/%d", oldGW)); err == nil && st.Gateway.PID != oldGW {
				t.Errorf("the old gateway (pid %d) is still there", oldGW)
			}
			if n := m.must("pgrep", "-c", "-x", "fakegateway"); n != "1" {
				t.Errorf("%s gateway processes, want exactly 1", n)
			}
			if st.Gateway.PID == oldGW {
				t.Errorf("gateway pid %d unchanged: the old gateway survived its openclawd", oldGW)
			}
			assertSame(t)
		}},
		{"upgrade keeps a local config edit and restarts the service", func(t *testing.T) {
			b, err := m.readFile(config)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err = edit.Apply(b, edit.Edit{Key: "restart.max_delay", Value: "90s"})
			if err != nil {
				t.Fatal(err)
			}
			localConfig = append(b, "# local edit (systest)\n"...)
			m.writeFile(config, localConfig, 0o640)
			oldMain := m.mainPID()
			m.copyIn(pkgs.new, "/root/"+filepath.Base(pkgs.new), 0o644)
			m.dpkgInstall(t, pkgs.new)
			if v := m.must("dpkg-query", "-W", "-f", "${Version}", "openclawd"); v != newVersion {
				t.Errorf("installed version %q, want %s", v, newVersion)
			}
			m.waitHealthy("healthy after the upgrade", time.Minute, func(s apitype.Status) bool { return s.PID != oldMain })
			if main := m.mainPID(); main == oldMain {
				t.Errorf("MainPID %d unchanged: the service was not restarted", main)
			}
			if got, _ := m.readFile(config); !bytes.Equal(got, localConfig) {
				t.Errorf("the upgrade changed %s:\n%s", config, got)
			}
			assertSame(t)
		}},
		{"dpkg -r stops the service and keeps the config", func(t *testing.T) {
			m.must("dpkg", "-r", "openclawd")
			if out, _ := m.g("systemctl", "is-active", "openclawd"); out == "active" || out == "activating" {
				t.Errorf("unit %s after dpkg -r", out)
			}
			if s := m.must("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "openclawd"); strings.TrimSpace(s) != "rc" {
				t.Errorf("package state %q, want rc (removed, config files kept)", s)
			}
			if got, err := m.readFile(config); err != nil || !bytes.Equal(got, localConfig) {
				t.Errorf("config after dpkg -r: %v\n%s", err, got)
			}
			if _, err := os.Stat(m.hostPath("/usr/bin/openclawd")); !os.IsNotExist(err) {
				t.Errorf("/usr/bin/openclawd after dpkg -r: %v", err)
			}
			if _, err := m.g("pgrep", "-x", "fakegateway"); exitCode(err) != 1 {
				t.Errorf("a gateway still runs after dpkg -r (%v)", err)
			}
		}},
		{"dpkg -P leaves nothing", func(t *testing.T) {
			m.must("dpkg", "-P", "openclawd")
			if _, err := m.g("dpkg-query", "-W", "openclawd"); err == nil {
				t.Error("dpkg still knows openclawd after purge")
			}
			for _, p := range []string{"/etc/openclawd", stateDir, "/run/openclawd", "/usr/lib/systemd/system/openclawd.service",
				"/etc/systemd/system/multi-user.target.wants/openclawd.service", "/etc/default/openclawd"} {
				if _, err := os.Lstat(m.hostPath(p)); !os.IsNotExist(err) {
					t.Errorf("%s is left after purge (%v)", p, err)
				}
			}
			for _, db := range []string{"passwd", "group"} {
				if _, err := m.g("getent", db, "openclawd"); exitCode(err) != 2 {
					t.Errorf("getent %s openclawd after purge: %v", db, err)
				}
			}
			if out := m.must("dpkg-statoverride", "--list"); strings.Contains(out, "openclawd") {
				t.Errorf("statoverrides left:\n%s", out)
			}
			if s := m.must("systemctl", "show", "-p", "LoadState", "--value", "openclawd"); s != "not-found" {
				t.Errorf("systemd still has the unit: LoadState=%s", s)
			}
		}},
	})

	size, inst := debFigures(t, pkgs.old)
	t.Logf("figures: boot to running %v; dpkg -i + setup %v; first certificate %v; reboot to healthy %v; kill -9 to healthy %v; .deb %.1f MB, Installed-Size %.1f MB",
		fig.bootToRunning.Round(time.Millisecond), fig.installAndSetup.Round(time.Millisecond), fig.firstCert.Round(time.Millisecond),
		roundAll(fig.rebootToHealthy), fig.killRecovery.Round(time.Millisecond), float64(size)/1e6, float64(inst)/1024)
}

// setup runs `openclawd setup` for Pebble's ACME with the given CA root.
func (m *machine) setup(caURL, root, wait string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	return m.gCtx(ctx, nil, "openclawd", "setup", "--non-interactive", "--tls", "acme", "--domain", domain,
		"--email", "ops@example.com", "--acme-ca", caURL, "--acme-ca-root", root, "--wait", wait)
}

// dpkgInstall runs dpkg -i. If it blocks on the service's start job past
// dpkgBound, that is a failure (an offline host must install), and the
// start job is cancelled so that the package ends configured and the rest
// of the scenario still runs.
func (m *machine) dpkgInstall(t *testing.T, deb string) (hung bool) {
	t.Helper()
	done := make(chan error, 1)
	var out string
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var err error
		out, err = m.gCtx(ctx, nil, "dpkg", "-i", "/root/"+filepath.Base(deb))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dpkg -i: %v\n%s", err, out)
		}
		return false
	case <-time.After(dpkgBound):
	}
	jobs, _ := m.g("systemctl", "list-jobs", "--no-legend")
	t.Errorf("dpkg -i %s still runs after %v: the postinst waits for the service's start job (%s)",
		filepath.Base(deb), dpkgBound, jobs)
	m.g("systemctl", "stop", "openclawd")
	if err := <-done; err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	return true
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
