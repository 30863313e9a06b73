//go:build systest && linux

package systest

// Tearing a machine down, and files in and out of its rootfs.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
