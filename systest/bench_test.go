//go:build systest && linux

package systest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config/edit"
	"github.com/openclawd/openclawd/internal/pebbletest"
)

// installedGuest is a booted guest with the .deb installed, the fake
// gateway configured and HTTPS from Pebble set up: what the benchmarks
// boot and reboot.
func installedGuest(b *testing.B) *machine {
	b.Helper()
	pkgs := buildDebs(b)
	fake := fakeGatewayBinary(b)
	nw := newNetwork(b)
	ca := pebbletest.Start(b, pebbletest.Options{Host: nw.acme, DefaultIPv4: nw.srv.IP.String()})
	m := newMachine(b, nw.srv)
	m.boot()
	if err := m.waitRunning("", 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	m.copyIn(pkgs.old, "/root/"+filepath.Base(pkgs.old), 0o644)
	m.copyIn(fake, fakeInVM, 0o755)
	m.copyIn(ca.APIRootFile, caRoot, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := m.gCtx(ctx, nil, "dpkg", "-i", "/root/"+filepath.Base(pkgs.old)); err != nil {
		b.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	cfg, err := m.readFile(config)
	if err != nil {
		b.Fatal(err)
	}
	if cfg, _, err = edit.Apply(cfg, edit.Edit{Key: "gateway.command", Value: []string{fakeInVM, "gateway", "run"}}); err != nil {
		b.Fatal(err)
	}
	m.writeFile(config, cfg, 0o640)
	if out, err := m.setup(ca.CAURL, caRoot, "1m"); err != nil {
		b.Fatalf("setup: %v\n%s", err, out)
	}
	return m
}

// BenchmarkBootToHealthy: from starting nspawn on an installed, powered-off
// guest to `openclawd status` exit 0.
func BenchmarkBootToHealthy(b *testing.B) {
	needSystem(b)
	m := installedGuest(b)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := m.poweroff(time.Minute); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		m.boot()
		if err := m.waitRunning("", 2*time.Minute); err != nil {
			b.Fatal(err)
		}
		m.waitHealthy("healthy after boot", time.Minute, nil)
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/boot-to-healthy")
}

// BenchmarkRebootToHealthy: from `systemctl reboot` in the guest to
// `openclawd status` exit 0 in the next boot.
func BenchmarkRebootToHealthy(b *testing.B) {
	needSystem(b)
	m := installedGuest(b)
	m.waitHealthy("healthy", time.Minute, nil)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		m.reboot()
		m.waitHealthy("healthy after reboot", time.Minute, nil)
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/reboot-to-healthy")
}
