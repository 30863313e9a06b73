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
	"strconv"
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

// teardown powers the guest off (forcing it if need be), removes its
// cgroup and asserts system-tests.md §3's teardown checks: no process,
// cgroup or propagate directory of this machine is left.
func (m *machine) teardown() {
	t := m.t
	if m.running() && t.Failed() {
		for _, argv := range [][]string{
			{"systemctl", "--failed", "--no-legend"},
			{"journalctl", "--no-pager", "-q", "-n", "80", "-u", "openclawd"},
			{"sh", "-c", "journalctl --no-pager -q -o cat -u openclawd | grep component=gateway | tail -n 40"},
		} {
			out, _ := m.g(argv...)
			t.Logf("guest %s:\n%s", strings.Join(argv, " "), out)
		}
	}
	if err := m.poweroff(90 * time.Second); err != nil {
		t.Errorf("%s: %v", m.name, err)
		m.kill()
	}
	for _, cg := range m.cgs {
		if err := removeCgroup(cg); err != nil {
			t.Errorf("%s: %v", m.name, err)
		}
	}
	for _, p := range append([]string{"/run/systemd/nspawn/propagate/" + m.name}, m.cgs...) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("teardown: %s is left (%v)", p, err)
		}
	}
	// nspawn from the wrong cgroup leaves these at a hierarchy's root.
	for _, h := range cgroupHierarchies() {
		for _, d := range []string{"payload", "supervisor"} {
			if _, err := os.Stat(filepath.Join(h, d)); err == nil {
				t.Errorf("teardown: %s is left", filepath.Join(h, d))
			}
		}
	}
	if pids := procsMatching(m.name, m.root); len(pids) > 0 {
		t.Errorf("teardown: processes of %s are left: %v", m.name, pids)
	}
	if t.Failed() {
		t.Logf("%s console (last lines):\n%s", m.name, m.console(40))
	}
}

// kill ends a guest that did not power off: SIGTERM to nspawn (a clean
// halt), then the boot loop's session and everything in the cgroup.
func (m *machine) kill() {
	if b, err := os.ReadFile(filepath.Join(m.state, "nspawn.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	select {
	case <-m.done:
		return
	case <-time.After(20 * time.Second):
	}
	if m.loop != nil && m.loop.Process != nil {
		syscall.Kill(-m.loop.Process.Pid, syscall.SIGKILL)
	}
	for _, cg := range m.cgs {
		os.WriteFile(filepath.Join(cg, "cgroup.kill"), []byte("1"), 0) // cgroup2 only
	}
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		m.t.Errorf("%s: boot loop survived SIGKILL", m.name)
	}
}

// removeCgroup removes a cgroup tree bottom-up, waiting briefly for
// exiting processes to leave it.
func removeCgroup(cg string) error {
	if _, err := os.Stat(cg); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var dirs []string
		filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		var err error
		for i := len(dirs) - 1; i >= 0; i-- {
			if e := syscall.Rmdir(dirs[i]); e != nil && !errors.Is(e, syscall.ENOENT) {
				err = fmt.Errorf("rmdir %s: %w", dirs[i], e)
			}
		}
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// procsMatching lists host processes in a cgroup named name or whose
// command line mentions path ("" matches nothing).
func procsMatching(name, path string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cg, _ := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if (name != "" && bytes.Contains(cg, []byte("/"+name))) || (path != "" && bytes.Contains(cmd, []byte(path))) {
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}

// copyIn writes a file into the guest's tree from the host.
func (m *machine) copyIn(src, dst string, mode os.FileMode) {
	m.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		m.t.Fatal(err)
	}
	m.writeFile(dst, b, mode)
}

func (m *machine) writeFile(dst string, b []byte, mode os.FileMode) {
	m.t.Helper()
	p := m.hostPath(dst)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, mode); err != nil {
		m.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machine) readFile(p string) ([]byte, error) {
	return os.ReadFile(m.hostPath(p))
}

// hostPath maps a guest path to the host. It refuses a path through a
// symlink: an absolute link would resolve against the host's root.
func (m *machine) hostPath(p string) string {
	m.t.Helper()
	cur := m.root
	for _, c := range strings.Split(strings.Trim(filepath.Clean(p), "/"), "/") {
		cur = filepath.Join(cur, c)
		if fi, err := os.Lstat(cur); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			m.t.Fatalf("guest path %s goes through the symlink %s", p, cur)
		}
	}
	return cur
}
