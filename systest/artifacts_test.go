//go:build systest && linux

package systest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway"
)

// Two package versions from the same tree, for the upgrade: only the
// version differs.
const (
	oldVersion = "0.0.1"
	newVersion = "0.0.2"
)

type debPair struct{ old, new string }

var debs struct {
	once sync.Once
	pair debPair
	err  error
}

// buildDebs builds the old .deb with `make deb` once per run and makes
// the new one from it with only the version changed: the upgrade path is
// what is tested, and a second build would cost 40 s.
func buildDebs(tb testing.TB) debPair {
	tb.Helper()
	root := moduleRoot(tb)
	if _, err := os.Stat(filepath.Join(root, "nfpm.yaml")); err != nil {
		// Until the packaging lands there is nothing to install.
		tb.Skipf("no nfpm.yaml: no .deb to test yet")
	}
	debs.once.Do(func() { debs.pair, debs.err = makeDebs(tb, root) })
	if debs.err != nil {
		tb.Fatal(debs.err)
	}
	return debs.pair
}

func makeDebs(tb testing.TB, root string) (debPair, error) {
	dist := filepath.Join(workDir(tb), "debs")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "deb", "VERSION="+oldVersion, "DEB_ARCHS="+runtime.GOARCH, "DEB_DIST="+dist)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return debPair{}, fmt.Errorf("make deb VERSION=%s: %v\n%s", oldVersion, err, out)
	}
	p := debPair{old: filepath.Join(dist, debName(oldVersion)), new: filepath.Join(dist, debName(newVersion))}
	if _, err := os.Stat(p.old); err != nil {
		return debPair{}, fmt.Errorf("make deb made no %s: %v", p.old, err)
	}
	tb.Logf("make deb: %s in %v", filepath.Base(p.old), time.Since(start).Round(time.Millisecond))
	tree := filepath.Join(dist, "repack")
	control := filepath.Join(tree, "DEBIAN", "control")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-R", p.old, tree).CombinedOutput(); err != nil {
		return debPair{}, fmt.Errorf("dpkg-deb -R: %v\n%s", err, out)
	}
	b, err := os.ReadFile(control)
	if err != nil {
		return debPair{}, err
	}
	old := "\nVersion: " + oldVersion + "\n"
	if !strings.Contains(string(b), old) {
		return debPair{}, fmt.Errorf("%s has no %q:\n%s", control, old, b)
	}
	if err := os.WriteFile(control, []byte(strings.Replace(string(b), old, "\nVersion: "+newVersion+"\n", 1)), 0o644); err != nil {
		return debPair{}, err
	}
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-Zzstd", "-z1", "-b", tree, p.new).CombinedOutput(); err != nil {
		return debPair{}, fmt.Errorf("dpkg-deb -b: %v\n%s", err, out)
	}
	return p, os.RemoveAll(tree)
}

func debName(version string) string {
	return fmt.Sprintf("openclawd_%s_%s.deb", version, runtime.GOARCH)
}

// debFigures are a .deb's size on disk and its Installed-Size (KiB).
func debFigures(tb testing.TB, deb string) (size int64, installedKiB int) {
	tb.Helper()
	fi, err := os.Stat(deb)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("dpkg-deb", "-f", deb, "Installed-Size").Output()
	if err != nil {
		tb.Fatalf("dpkg-deb -f %s: %v", deb, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || n <= 0 {
		tb.Errorf("%s: Installed-Size %q", deb, out)
	}
	return fi.Size(), n
}

var fake struct {
	once sync.Once
	bin  string
	err  error
}

// fakeGatewayBinary is the fake gateway, static (CGO_ENABLED=0) so that it
// runs in the guest as it is.
func fakeGatewayBinary(tb testing.TB) string {
	tb.Helper()
	fake.once.Do(func() {
		dir := filepath.Join(workDir(tb), "fake")
		if fake.err = os.MkdirAll(dir, 0o755); fake.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		fake.bin, fake.err = fakegateway.Build(ctx, dir)
	})
	if fake.err != nil {
		tb.Fatal(fake.err)
	}
	return fake.bin
}
