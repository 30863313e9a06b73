//go:build systest && linux

package systest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/openclawd/openclawd/internal/nodemirror"
)

// tools the harness runs on the host, with the Debian package for each.
var tools = []struct{ bin, pkg string }{
	{"debootstrap", "debootstrap"},
	{"systemd-nspawn", "systemd-container"},
	{"systemd-machine-id-setup", "systemd"},
	{"zstd", "zstd"},
	{"tar", "tar"},
	{"chroot", "coreutils"},
	{"nsenter", "util-linux"},
	{"ip", "iproute2"},
	{"dpkg-deb", "dpkg"},
}

var prereq struct {
	once sync.Once
	why  string
}

// missing says what this host lacks for system tests, or "".
func missing() string {
	prereq.once.Do(func() {
		var miss []string
		if os.Geteuid() != 0 {
			miss = append(miss, "root (nspawn, network namespaces and cgroups need it)")
		}
		for _, t := range tools {
			if _, err := exec.LookPath(t.bin); err != nil {
				miss = append(miss, fmt.Sprintf("%s (apt-get install %s)", t.bin, t.pkg))
			}
		}
		if len(cgroupHierarchies()) == 0 {
			miss = append(miss, "a writable cgroup hierarchy under /sys/fs/cgroup")
		}
		prereq.why = strings.Join(miss, ", ")
	})
	return prereq.why
}

// needSystem skips a test on a machine that cannot run system tests, but
// fails it under CI=true: a skipped system test never counts as a pass.
func needSystem(tb testing.TB) {
	tb.Helper()
	if why := missing(); why != "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("system tests cannot run: missing %s", why)
		}
		tb.Skipf("system tests need %s", why)
	}
}

// cgroupHierarchies are the cgroup roots a machine's cgroup is made in:
// /sys/fs/cgroup on a pure cgroup2 host; on a hybrid host the named
// systemd v1 hierarchy and the unified one, both of which nspawn uses.
func cgroupHierarchies() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var hs []string
	for _, h := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err == nil {
			hs = append(hs, h)
		}
	}
	return hs
}

// cacheDir keeps the rootfs tarball (and the real gateway's runtime)
// between runs, next to the Node mirror's cache.
func cacheDir() string { return filepath.Join(nodemirror.DefaultCacheDir(), "systest") }

var work struct {
	once sync.Once
	dir  string
	err  error
}

// workDir holds this run's machines, builds and artifacts. Machines go on
// tmpfs when /dev/shm has room: unpacking a rootfs there takes 0.7 s
// instead of 10 s on this kind of machine's ext4. SYSTEST_WORKDIR overrides.
func workDir(tb testing.TB) string {
	tb.Helper()
	work.once.Do(func() {
		base := os.Getenv("SYSTEST_WORKDIR")
		if base == "" {
			base = os.TempDir()
			var st syscall.Statfs_t
			if syscall.Statfs("/dev/shm", &st) == nil && st.Type == 0x01021994 /* TMPFS_MAGIC */ &&
				st.Bavail*uint64(st.Bsize) > 4<<30 {
				base = "/dev/shm"
			}
		}
		removeStaleWorkDirs(base)
		work.dir, work.err = os.MkdirTemp(base, fmt.Sprintf("openclawd-systest-%d-", os.Getpid()))
		if work.err == nil {
			work.err = os.Chmod(work.dir, 0o755) // machines' daemons must traverse it
		}
	})
	if work.err != nil {
		tb.Fatalf("work dir: %v", work.err)
	}
	return work.dir
}

// removeStaleWorkDirs removes work dirs of test processes that are gone
// (killed, or a panic skipped TestMain's cleanup): on tmpfs they hold RAM.
func removeStaleWorkDirs(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "openclawd-systest-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(d), "-")[2])
		if err != nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		// A killed test leaves its boot loops running (they have their own
		// session): never pull a rootfs from under a machine.
		if len(procsMatching("", d)) > 0 {
			continue
		}
		removeTree(d)
	}
}

// moduleRoot is the repository root: tests run in systest/.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(wd)
}

func TestMain(m *testing.M) {
	rc := m.Run()
	if work.dir != "" {
		if err := os.RemoveAll(work.dir); err != nil {
			fmt.Fprintf(os.Stderr, "systest: removing %s: %v\n", work.dir, err)
			rc = 1
		}
	}
	os.Exit(rc)
}
