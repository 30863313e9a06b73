//go:build systest && linux

package systest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
)

const (
	suite = "bookworm"
	// The recipe's package list: systemd as PID 1, plus what the checks use.
	includes = "systemd,systemd-sysv,dbus,iproute2,ca-certificates,curl,procps,netbase,less"
	// recipeRev changes the cache key when the build steps below change.
	recipeRev = "1"
)

var rootfs struct {
	once sync.Once
	path string
	err  error
}

// rootfsImage returns the cached rootfs tarball, building it first if no
// run has yet. The key covers the suite, the package list and the steps.
func rootfsImage(tb testing.TB) string {
	tb.Helper()
	rootfs.once.Do(func() { rootfs.path, rootfs.err = buildRootfs(tb) })
	if rootfs.err != nil {
		tb.Fatalf("rootfs: %v", rootfs.err)
	}
	return rootfs.path
}

func rootfsName() string {
	h := sha256.Sum256([]byte(suite + "\n" + includes + "\n" + recipeRev))
	return fmt.Sprintf("rootfs-%s-%s.tar.zst", suite, hex.EncodeToString(h[:6]))
}

func buildRootfs(tb testing.TB) (string, error) {
	dir := cacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	img := filepath.Join(dir, rootfsName())
	// Parallel test binaries (and CI's early build) share the cache: one
	// builds, the others wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	lock, err := fsutil.Acquire(ctx, filepath.Join(dir, "rootfs.lock"), nil)
	if err != nil {
		return "", fmt.Errorf("locking the cache: %w", err)
	}
	defer lock.Unlock()
	if fi, err := os.Stat(img); err == nil && fi.Size() > 0 {
		return img, nil
	}
	mirror, err := aptMirror(suite)
	if err != nil {
		return "", err
	}
	start := time.Now()
	// Build on the work dir's tmpfs: debootstrap writes 230 MB of small files.
	r, err := os.MkdirTemp(workDir(tb), "rootfs-build-")
	if err != nil {
		return "", err
	}
	defer removeTree(r)
	logf := filepath.Join(dir, "debootstrap.log")
	steps := [][]string{
		{"debootstrap", "--variant=minbase", "--include=" + includes, suite, r, mirror},
		{"chroot", r, "passwd", "-d", "root"},
		{"chroot", r, "apt-get", "clean"}, // drop the downloaded .debs
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput(); err != nil {
			os.WriteFile(logf, out, 0o644)
			return "", fmt.Errorf("%s: %v (output in %s)\n%s", strings.Join(s, " "), err, logf, tail(string(out), 20))
		}
	}
	// An empty machine-id makes each machine get its own; the D-Bus copy
	// would otherwise be shared by all of them.
	if err := os.WriteFile(filepath.Join(r, "etc/machine-id"), nil, 0o444); err != nil {
		return "", err
	}
	os.Remove(filepath.Join(r, "var/lib/dbus/machine-id"))
	// A persistent journal, for journalctl --list-boots across reboots.
	if err := os.MkdirAll(filepath.Join(r, "var/log/journal"), 0o755); err != nil {
		return "", err
	}
	getty := filepath.Join(r, "etc/systemd/system/console-getty.service")
	os.Remove(getty)
	if err := os.Symlink("/dev/null", getty); err != nil {
		return "", err
	}
	// MkdirTemp made it 0700: non-root daemons in the guest (dbus) then fail.
	if err := os.Chmod(r, 0o755); err != nil {
		return "", err
	}
	tmp := img + ".tmp"
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-I", "zstd -T0", "-C", r, "-cf", tmp, ".").CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("tar: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, img); err != nil {
		return "", err
	}
	tb.Logf("rootfs: built %s from %s in %v", img, mirror, time.Since(start).Round(time.Second))
	return img, nil
}

// aptMirror is the Debian mirror this machine's apt uses for suite, read
// from its sources (deb822 .sources and one-line .list files), so that no
// mirror host is written anywhere in the project. SYSTEST_APT_MIRROR wins.
func aptMirror(suite string) (string, error) {
	if m := os.Getenv("SYSTEST_APT_MIRROR"); m != "" {
		return m, nil
	}
	files := []string{"/etc/apt/sources.list"}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.sources", "/etc/apt/sources.list.d/*.list"} {
		m, _ := filepath.Glob(pat)
		sort.Strings(m)
		files = append(files, m...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		if strings.HasSuffix(f, ".sources") {
			uri = deb822Mirror(string(b), suite)
		} else {
			uri = oneLineMirror(string(b), suite)
		}
		if uri != "" {
			return uri, nil
		}
	}
	return "", fmt.Errorf("no apt source for %s in %v; set SYSTEST_APT_MIRROR", suite, files)
}

func deb822Mirror(text, suite string) string {
	for _, stanza := range strings.Split(text, "\n\n") {
		f := map[string][]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") {
				f[strings.ToLower(k)] = strings.Fields(v)
			}
		}
		if slices.Contains(f["types"], "deb") && slices.Contains(f["suites"], suite) &&
			!slices.Contains(f["enabled"], "no") && len(f["uris"]) > 0 {
			return f["uris"][0]
		}
	}
	return ""
}

func oneLineMirror(text, suite string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "deb ") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "deb "))
		if strings.HasPrefix(line, "[") { // options: deb [arch=amd64] URI SUITE ...
			if i := strings.Index(line, "]"); i >= 0 {
				line = line[i+1:]
			}
		}
		if w := strings.Fields(line); len(w) >= 2 && w[1] == suite {
			return w[0]
		}
	}
	return ""
}

// removeTree removes a rootfs, first unmounting whatever a killed
// debootstrap or nspawn left mounted inside it, so RemoveAll never walks
// into /proc or /sys.
func removeTree(dir string) error {
	b, _ := os.ReadFile("/proc/self/mounts")
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			mounts = append(mounts, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts))) // deepest first
	for _, m := range mounts {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	return os.RemoveAll(dir)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestAptMirror(t *testing.T) {
	for _, tc := range []struct{ name, kind, text, want string }{
		{"deb822", "sources", "Types: deb\n# comment\nURIs: http://m.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://s.invalid/debian-security\nSuites: bookworm-security\n", "http://m.invalid/debian"},
		{"deb822 security only", "sources", "Types: deb\nURIs: http://s.invalid/debian-security\nSuites: bookworm-security\n", ""},
		{"deb822 disabled", "sources", "Enabled: no\nTypes: deb\nURIs: http://m.invalid/debian\nSuites: bookworm\n", ""},
		{"deb822 deb-src only", "sources", "Types: deb-src\nURIs: http://m.invalid/debian\nSuites: bookworm\n", ""},
		{"one-line", "list", "# x\ndeb-src http://a.invalid/d bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://m.invalid/debian bookworm main\n", "http://m.invalid/debian"},
		{"one-line other suite", "list", "deb http://m.invalid/debian trixie main\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			if tc.kind == "sources" {
				got = deb822Mirror(tc.text, "bookworm")
			} else {
				got = oneLineMirror(tc.text, "bookworm")
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
