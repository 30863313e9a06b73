//go:build systest && linux

package systest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config/edit"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/pins"
)

// The openclaw the previous openclawd pins: published, with the same Node
// floor as the pin, and a state schema (17) the pin's (18) migrates.
const (
	olderOpenclaw          = "2026.9.5"
	olderOpenclawIntegrity = "sha512-TCO/ImVLh5HkF4tdfo7iriIa7kT6iYkIr/jR5ZOkePGFGhUx5Oe7DE716Y1DzzG2teRAVDdCjgJDu1A24Yta7w=="
)

var olderPins struct {
	once    sync.Once
	deb, rt string
	err     error
}

// olderPinsDeb is the old package (0.0.1) with its openclawd built to pin
// openclaw 2026.9.5 (pins.override), and that runtime provisioned by it.
func olderPinsDeb(tb testing.TB, old string) (deb, rt string) {
	tb.Helper()
	olderPins.once.Do(func() {
		olderPins.deb, olderPins.err = repackWithPins(tb, old)
		if olderPins.err == nil {
			olderPins.rt, olderPins.err = provisionRuntime(tb, olderPins.deb, olderOpenclaw, []byte(olderOpenclawIntegrity))
		}
	})
	if olderPins.err != nil {
		tb.Fatal(olderPins.err)
	}
	return olderPins.deb, olderPins.rt
}

func repackWithPins(tb testing.TB, old string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(workDir(tb), "debs-older-pins")
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-R", old, tree).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb -R: %v\n%s", err, out)
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags",
		fmt.Sprintf("-s -w -X github.com/openclawd/openclawd/daemon.Version=%s -X 'github.com/openclawd/openclawd/runtime/pins.override=%s %s'", oldVersion, olderOpenclaw, olderOpenclawIntegrity),
		"-o", filepath.Join(tree, "usr", "bin", "openclawd"), "./cmd/openclawd")
	build.Dir = moduleRoot(tb)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building openclawd with older pins: %v\n%s", err, out)
	}
	deb := filepath.Join(dir, "openclawd-older-pins.deb")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-Zzstd", "-z1", "-b", tree, deb).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb -b: %v\n%s", err, out)
	}
	return deb, os.RemoveAll(tree)
}

// TestPackageUpgradeNewPins: the previous openclawd, pinning openclaw
// 2026.9.5, runs the real gateway under systemd; `apt install` of the new
// .deb, which pins 2026.9.6, restarts it, and its start moves the gateway
// through the gated transaction (the guest is offline: the target's
// runtime is seeded beside the current one, so its install step finds
// it). Then a reboot, healthy on 2026.9.6 with nothing left to do.
func TestPackageUpgradeNewPins(t *testing.T) {
	needSystem(t)
	t.Parallel()
	pkgs := buildDebs(t)
	newRT := realRuntime(t, pkgs.old)
	oldDeb, oldRT := olderPinsDeb(t, pkgs.old)
	nw := newNetwork(t)
	m := newMachine(t, nw.srv)
	m.boot()
	if err := m.waitRunning("", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	onVersion := func(v string) func(apitype.Status) bool {
		return func(s apitype.Status) bool {
			return s.Health.Version == v && s.Health.Deep.HelloOK && (s.Upgrade == nil || s.Upgrade.Running == nil)
		}
	}
	var upgradeTook, reboot time.Duration
	steps(t, m, []step{
		{"the previous openclawd runs openclaw " + olderOpenclaw, func(t *testing.T) {
			m.copyIn(oldDeb, "/root/"+filepath.Base(oldDeb), 0o644)
			m.dpkgInstall(t, oldDeb)
			m.must("systemctl", "stop", "openclawd")
			m.seedRuntime(newRT) // the target, as a host online would install it
			m.seedRuntime(oldRT) // the one in use: its current.json last
			b, err := m.readFile(config)
			if err != nil {
				t.Fatal(err)
			}
			if b, _, err = edit.Apply(b, edit.Edit{Key: "upgrade.stable_window", Value: "20s"}); err != nil {
				t.Fatal(err)
			}
			m.writeFile(config, b, 0o640)
			m.must("systemctl", "start", "openclawd")
			m.waitHealthy("the real gateway on "+olderOpenclaw, 3*time.Minute, onVersion(olderOpenclaw))
		}},
		{"apt install of the new package moves the gateway to its pins, gated", func(t *testing.T) {
			m.copyIn(pkgs.new, "/root/"+filepath.Base(pkgs.new), 0o644)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if out, err := m.gCtx(ctx, nil, "apt-get", "install", "-y", "/root/"+filepath.Base(pkgs.new)); err != nil {
				t.Fatalf("apt-get install: %v\n%s", err, out)
			}
			st := m.waitHealthy("the gateway on the new pins", 6*time.Minute, func(s apitype.Status) bool {
				return onVersion(pins.OpenclawVersion)(s) && s.Upgrade != nil && s.Upgrade.Last != nil && s.Upgrade.Last.Kind == "pins"
			})
			upgradeTook = time.Since(start)
			if l := st.Upgrade.Last; l.Result != "done" || l.From.Openclaw != olderOpenclaw {
				t.Fatalf("the start's transaction: %+v", l)
			}
			log := m.must("journalctl", "--no-pager", "-q", "-o", "cat", "-u", "openclawd")
			for _, want := range []string{"this openclawd pins another runtime than the one running", "pins: gate", "pins done"} {
				if !strings.Contains(log, want) {
					t.Errorf("the journal lacks %q:\n%s", want, tail(log, 40))
				}
			}
		}},
		{"healthy on the new pins after a reboot, with nothing left to do", func(t *testing.T) {
			start := time.Now()
			m.reboot()
			st := m.waitHealthy("the gateway after a reboot", 3*time.Minute, onVersion(pins.OpenclawVersion))
			reboot = time.Since(start)
			if st.Upgrade.Pinned != nil {
				t.Errorf("status says the pins still differ: %+v", st.Upgrade)
			}
			if cur := m.must("cat", stateDir+"/runtime/current.json"); !strings.Contains(cur, "openclaw-"+pins.OpenclawVersion) {
				t.Errorf("current.json: %s", cur)
			}
		}},
	})
	t.Logf("figures (real gateway, systemd): apt install to healthy and stable on the new pins %v (stable window 20s); reboot to healthy %v",
		upgradeTook.Round(time.Millisecond), reboot.Round(time.Millisecond))
}
