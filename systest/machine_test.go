//go:build systest && linux

package systest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/testnet"
)

// bootLoop runs one machine: nspawn again after an in-guest reboot (exit
// 133, as systemd-nspawn@.service's RestartForceExitStatus), in the
// machine's own cgroup so that nspawn's payload/ and supervisor/ don't
// land in the test's cgroup or collide with other machines'.
const bootLoop = `N=$1 M=$2 NS=$3 S=$4; shift 4
for h; do mkdir -p "$h" && echo $$ >"$h/cgroup.procs" || exit 97; done
while :; do
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -D "$M" -M "$N" --boot --register=no \
    --keep-unit --console=read-only --network-namespace-path="/run/netns/$NS" \
    </dev/null >>"$S/console.log" 2>&1 &
  echo $! >"$S/nspawn.pid"; wait $!; rc=$?; echo $rc >>"$S/exit.rc"
  rm -rf "/run/systemd/nspawn/propagate/$N"; [ $rc = 133 ] || break
done`

// machine is one booted (or bootable) guest with systemd as PID 1.
type machine struct {
	t     testing.TB
	name  string // nspawn machine name, also its cgroup's name
	root  string // the guest's root directory on the host
	state string // console.log, nspawn.pid, exit.rc
	host  *testnet.Host
	cgs   []string // the machine's cgroup, one per hierarchy
	loop  *exec.Cmd
	done  chan struct{} // closed when the boot loop has ended
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newMachine unpacks a fresh rootfs for host's namespace; boot it with
// boot. Its cleanup powers it off and asserts that nothing is left.
func newMachine(t testing.TB, host *testnet.Host) *machine {
	t.Helper()
	img := rootfsImage(t)
	name := "systest-" + randHex(4)
	base := filepath.Join(workDir(t), name)
	m := &machine{t: t, name: name, root: filepath.Join(base, "root"), state: filepath.Join(base, "state"), host: host}
	for _, h := range cgroupHierarchies() {
		m.cgs = append(m.cgs, filepath.Join(h, name))
	}
	for _, d := range []string{m.root, m.state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { m.teardown(); removeTree(base) })
	if out, err := exec.Command("tar", "--numeric-owner", "-I", "zstd", "-C", m.root, "-xpf", img).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", img, err, out)
	}
	if err := os.Chmod(m.root, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-machine-id-setup", "--root="+m.root).CombinedOutput(); err != nil {
		t.Fatalf("machine id: %v\n%s", err, out)
	}
	return m
}

// boot starts the boot loop; waitRunning tells when the guest is up.
func (m *machine) boot() {
	m.t.Helper()
	args := append([]string{"-c", bootLoop, "sh", m.name, m.root, m.host.NS, m.state}, m.cgs...)
	m.loop = exec.Command("sh", args...)
	m.loop.Dir = "/"
	m.loop.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	os.Remove(filepath.Join(m.state, "nspawn.pid"))
	if err := m.loop.Start(); err != nil {
		m.t.Fatalf("boot loop: %v", err)
	}
	done := make(chan struct{})
	m.done = done
	go func(c *exec.Cmd) { c.Wait(); close(done) }(m.loop)
}

func (m *machine) running() bool {
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// pid1 is the guest's init as the host sees it: nspawn's child.
func (m *machine) pid1() (string, error) {
	b, err := os.ReadFile(filepath.Join(m.state, "nspawn.pid"))
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(b))
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%s/task/%s/children", p, p))
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(kids))
	if len(f) == 0 {
		return "", fmt.Errorf("nspawn %s has no child yet", p)
	}
	return f[0], nil
}

// exitError carries a guest command's exit code and stderr.
type exitError struct {
	argv   []string
	code   int
	stderr string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("%s: exit %d: %s", strings.Join(e.argv, " "), e.code, strings.TrimSpace(e.stderr))
}

// exitCode is a guest command's exit code, or -1 if it did not run.
func exitCode(err error) int {
	var ee *exitError
	if err == nil {
		return 0
	}
	if errors.As(err, &ee) {
		return ee.code
	}
	return -1
}

// gCtx runs argv in the guest (all of PID 1's namespaces, a clean
// environment) and returns its trimmed stdout. The cwd must be /: an
// ancestor of the guest's root would make getcwd() fail inside.
func (m *machine) gCtx(ctx context.Context, stdin []byte, argv ...string) (string, error) {
	pid, err := m.pid1()
	if err != nil {
		return "", fmt.Errorf("guest not running: %w", err)
	}
	args := append([]string{"-t", pid, "-a", "env", "-i", "TERM=dumb", "LANG=C.UTF-8", "HOME=/root",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, argv...)
	c := exec.CommandContext(ctx, "nsenter", args...)
	c.Dir = "/"
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	err = c.Run()
	out := strings.TrimSpace(stdout.String())
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return out, &exitError{argv: argv, code: ee.ExitCode(), stderr: stderr.String()}
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return out, nil
}

// g runs argv in the guest with a two-minute bound.
func (m *machine) g(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return m.gCtx(ctx, nil, argv...)
}

// must runs argv in the guest and fails the test unless it exits 0.
func (m *machine) must(argv ...string) string {
	m.t.Helper()
	out, err := m.g(argv...)
	if err != nil {
		m.t.Fatalf("in the guest: %v\nstdout: %s", err, out)
	}
	return out
}

func (m *machine) bootID() string {
	id, _ := m.g("cat", "/proc/sys/kernel/random/boot_id")
	return id
}

// waitRunning waits until the guest runs a boot other than oldBoot and
// systemd says "running". A degraded boot is an error naming the failed
// units.
func (m *machine) waitRunning(oldBoot string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		if !m.running() {
			return fmt.Errorf("nspawn exited (exit codes %q); console:\n%s", m.exitCodes(), m.console(30))
		}
		if id := m.bootID(); id != "" && id != oldBoot {
			state, _ := m.g("systemctl", "is-system-running")
			switch last = state; state {
			case "running":
				return nil
			case "degraded":
				failed, _ := m.g("systemctl", "--failed", "--no-legend")
				return fmt.Errorf("boot degraded: failed units:\n%s", failed)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not running after %v (last state %q); console:\n%s", timeout, last, m.console(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *machine) nspawnPID() string {
	b, _ := os.ReadFile(filepath.Join(m.state, "nspawn.pid"))
	return strings.TrimSpace(string(b))
}

// reboot reboots the guest from inside and waits for the new boot. Until
// the boot loop has started a new nspawn it watches only from the host:
// commands entering a guest that is shutting down hold systemd-shutdown's
// kill loop for up to twice 90 s.
func (m *machine) reboot() {
	m.t.Helper()
	old, oldPID := m.bootID(), m.nspawnPID()
	if old == "" || oldPID == "" {
		m.t.Fatal("reboot: the guest is not running")
	}
	m.g("systemctl", "reboot")
	deadline := time.Now().Add(2 * time.Minute)
	for m.nspawnPID() == oldPID {
		if !m.running() || time.Now().After(deadline) {
			m.t.Fatalf("reboot: nspawn %s did not restart (exit codes %q); console:\n%s", oldPID, m.exitCodes(), m.console(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := m.waitRunning(old, 2*time.Minute); err != nil {
		m.t.Fatalf("after reboot: %v", err)
	}
}

// poweroff shuts the guest down from inside and waits for nspawn to end;
// a clean halt exits 0, which ends the boot loop.
func (m *machine) poweroff(timeout time.Duration) error {
	if !m.running() {
		return nil
	}
	m.g("systemctl", "poweroff")
	select {
	case <-m.done:
	case <-time.After(timeout):
		return fmt.Errorf("still running %v after poweroff", timeout)
	}
	if rc := m.exitCodes(); len(rc) == 0 || rc[len(rc)-1] != "0" {
		return fmt.Errorf("nspawn exit codes %q; want a last 0 after poweroff", rc)
	}
	return nil
}

func (m *machine) exitCodes() []string {
	b, _ := os.ReadFile(filepath.Join(m.state, "exit.rc"))
	return strings.Fields(string(b))
}

func (m *machine) console(n int) string {
	b, _ := os.ReadFile(filepath.Join(m.state, "console.log"))
	return tail(string(b), n)
}
