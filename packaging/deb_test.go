package packaging

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeb builds the amd64 .deb with `make deb` as a release would, twice
// (it must be reproducible), and inspects the result with dpkg-deb and
// lintian. Installing it under systemd is systest's job.
func TestDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds openclawd and a .deb twice (1-2 minutes)")
	}
	mk, dpkgDeb := need(t, "make"), need(t, "dpkg-deb")
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	const (
		epoch   = 1700000000 // SOURCE_DATE_EPOCH: every mtime
		version = "9.8.7~rc1"
	)
	build := func(dist string) string {
		t.Helper()
		// The tag form, to check make turns it into a Debian version.
		cmd := exec.Command(mk, "-C", repo, "deb", "DEB_ARCHS=amd64", "VERSION=v9.8.7-rc1", "DEB_DIST="+dist)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make deb: %v\n%s", err, out)
		}
		return filepath.Join(dist, "openclawd_"+version+"_amd64.deb")
	}
	deb := build(filepath.Join(t.TempDir(), "dist"))
	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}

	t.Run("reproducible", func(t *testing.T) {
		again := build(filepath.Join(t.TempDir(), "dist"))
		if a, b := sum(t, deb), sum(t, again); a != b {
			t.Errorf("two builds differ: %x, %x", a, b)
		}
	})

	t.Run("control fields", func(t *testing.T) {
		fields := map[string]string{}
		for _, line := range strings.Split(run(t, dpkgDeb, "-f", deb), "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(k, " ") {
				fields[k] = v
			}
		}
		for k, want := range map[string]string{
			"Package": "openclawd", "Version": version, "Architecture": "amd64",
			"Depends": "passwd, ca-certificates", "Recommends": "systemd",
		} {
			if fields[k] != want {
				t.Errorf("%s: %q, want %q", k, fields[k], want)
			}
		}
		fi, err := os.Stat(deb)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes, Installed-Size %s KiB", filepath.Base(deb), fi.Size(), fields["Installed-Size"])
	})

	t.Run("contents", func(t *testing.T) {
		type entry struct{ mode, owner string }
		got := map[string]entry{}
		mtime := time.Unix(epoch, 0).UTC().Format("2006-01-02 15:04")
		for _, line := range strings.Split(strings.TrimSpace(run(t, dpkgDeb, "-c", deb)), "\n") {
			f := strings.Fields(line) // mode owner size date time path
			if len(f) != 6 {
				t.Fatalf("unexpected line %q", line)
			}
			got[f[5]] = entry{f[0], f[1]}
			if f[3]+" "+f[4] != mtime {
				t.Errorf("%s: mtime %s %s, want %s (SOURCE_DATE_EPOCH)", f[5], f[3], f[4], mtime)
			}
		}
		want := map[string]entry{
			"./usr/bin/openclawd":                        {"-rwxr-xr-x", "root/root"},
			"./usr/lib/systemd/system/openclawd.service": {"-rw-r--r--", "root/root"},
			// Owners needing the openclawd user are postinst's statoverrides.
			"./etc/openclawd/":                        {"drwxr-xr-x", "root/root"},
			"./etc/openclawd/openclawd.yaml":          {"-rw-r-----", "root/root"},
			"./etc/openclawd/gateway.env":             {"-rw-------", "root/root"},
			"./etc/default/openclawd":                 {"-rw-r--r--", "root/root"},
			"./var/lib/openclawd/":                    {"drwx------", "root/root"},
			"./usr/share/doc/openclawd/copyright":     {"-rw-r--r--", "root/root"},
			"./usr/share/doc/openclawd/changelog.gz":  {"-rw-r--r--", "root/root"},
			"./usr/share/lintian/overrides/openclawd": {"-rw-r--r--", "root/root"},
		}
		for path, w := range want {
			if g, ok := got[path]; !ok {
				t.Errorf("%s is missing", path)
			} else if g != w {
				t.Errorf("%s: %s %s, want %s %s", path, g.mode, g.owner, w.mode, w.owner)
			}
		}
		for path, g := range got {
			if _, ok := want[path]; !ok && !strings.HasPrefix(g.mode, "d") {
				t.Errorf("unexpected file %s", path)
			}
		}
	})

	ctrl := filepath.Join(t.TempDir(), "DEBIAN")
	run(t, dpkgDeb, "-e", deb, ctrl)
	t.Run("conffiles", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(string(b))
		slices.Sort(got)
		want := []string{"/etc/default/openclawd", "/etc/openclawd/gateway.env", "/etc/openclawd/openclawd.yaml"}
		if !slices.Equal(got, want) {
			t.Errorf("conffiles %q, want %q", got, want)
		}
	})
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		t.Run("script "+script, func(t *testing.T) {
			sameFile(t, filepath.Join(ctrl, script), filepath.Join("deb", script))
			if fi, err := os.Stat(filepath.Join(ctrl, script)); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: %v, %v; want mode 0755", script, fi.Mode(), err)
			}
		})
	}

	root := filepath.Join(t.TempDir(), "root")
	run(t, dpkgDeb, "-x", deb, root)
	files := []struct{ installed, source string }{
		{"usr/lib/systemd/system/openclawd.service", "openclawd.service"},
		{"etc/openclawd/openclawd.yaml", "openclawd.yaml"},
		{"etc/openclawd/gateway.env", "deb/gateway.env"},
		{"etc/default/openclawd", "deb/default"},
		{"usr/share/doc/openclawd/copyright", "deb/copyright"},
		{"usr/share/lintian/overrides/openclawd", "deb/lintian-overrides"},
	}
	for _, f := range files {
		t.Run("file "+f.installed, func(t *testing.T) { sameFile(t, filepath.Join(root, f.installed), f.source) })
	}
	bin := filepath.Join(root, "usr/bin/openclawd")

	t.Run("binary", func(t *testing.T) {
		e, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if e.Machine != elf.EM_X86_64 {
			t.Errorf("machine %v, want x86-64", e.Machine)
		}
		for _, p := range e.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("dynamically linked (CGO_ENABLED=0 expected)")
			}
		}
		if out := run(t, bin, "version"); strings.TrimSpace(out) != "openclawd "+version {
			t.Errorf("openclawd version: %q, want the package version", out)
		}
	})

	t.Run("shipped config validates", func(t *testing.T) {
		// As postinst runs it, with the shipped env file in place of
		// /etc/openclawd/gateway.env (which this host does not have).
		env := filepath.Join(root, "etc/openclawd/gateway.env")
		if err := os.Chmod(env, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, "etc/openclawd/openclawd.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(t.TempDir(), "openclawd.yaml")
		s, err := replaceEach(string(b), "\n  env_file: /etc/openclawd/gateway.env\n", "\n  env_file: "+env+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, bin, "validate", "--config", cfg)
	})

	t.Run("changelog", func(t *testing.T) {
		f, err := os.Open(filepath.Join(root, "usr/share/doc/openclawd/changelog.gz"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _ := bufio.NewReader(z).ReadString('\n')
		if want := "openclawd (" + version + ") unstable; urgency=medium\n"; first != want {
			t.Errorf("changelog starts %q, want %q", first, want)
		}
	})

	t.Run("lintian", func(t *testing.T) {
		lintian := need(t, "lintian")
		// Errors and warnings fail; each accepted tag is an override with
		// its reason in deb/lintian-overrides.
		cmd := exec.Command(lintian, "--fail-on", "error,warning", deb)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
			t.Errorf("lintian: %v\n%s", err, out.String())
		}
	})
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

func sameFile(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s differs from packaging/%s", got, want)
	}
}
