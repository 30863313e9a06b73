package nodemirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/runtime/pins"
)

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("OPENCLAWD_TEST_CACHE", "/c")
	t.Setenv("XDG_CACHE_HOME", "/x")
	t.Setenv("HOME", "/h")
	if got := DefaultCacheDir(); got != "/c" {
		t.Errorf("with OPENCLAWD_TEST_CACHE: %q", got)
	}
	t.Setenv("OPENCLAWD_TEST_CACHE", "")
	if got := DefaultCacheDir(); got != "/x/openclawd-test" {
		t.Errorf("with XDG_CACHE_HOME: %q", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	if got := DefaultCacheDir(); runtime.GOOS != "windows" && got != "/h/.cache/openclawd-test" {
		t.Errorf("with HOME: %q", got)
	}
}

// TestLoadCached covers reuse decisions without building anything.
func TestLoadCached(t *testing.T) {
	const name, stamp = "node-v1.2.3-linux-x64.tar.xz", "node 1.2.3\n"
	dir := filepath.Join(t.TempDir(), "v1.2.3")
	if _, err := loadCached(dir, name, stamp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty cache: %v; want ErrNotExist", err)
	}
	sum := sha256.Sum256([]byte("tarball"))
	write := func(file, data string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(name, "tarball")
	write("SHASUMS256.txt", hex.EncodeToString(sum[:])+"  "+name+"\n")
	write(stampName, stamp)
	if files, err := loadCached(dir, name, stamp); err != nil || files[name] != hex.EncodeToString(sum[:]) {
		t.Fatalf("good cache: %v, %v", files, err)
	}
	if _, err := loadCached(dir, name, "node 1.2.3\nnpm 9\n"); err == nil {
		t.Error("stamp mismatch accepted")
	}
	write(name, "tarbal!")
	if _, err := loadCached(dir, name, stamp); err == nil || !strings.Contains(err.Error(), "SHASUMS256.txt says") {
		t.Errorf("corrupt tarball: %v", err)
	}
}

// TestBuildAndServe builds the real mirror into the shared cache (first run:
// ~55 MB from the npm registry and ~15 s of xz; later runs reuse it).
func TestBuildAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the npm registry on first run")
	}
	if runtime.GOOS != "linux" {
		t.Skip("nodemirror builds linux mirrors only")
	}
	if err := checkTools(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cache := DefaultCacheDir()
	start := time.Now()
	m, err := Build(ctx, cache, pins.NodeVersion, pins.NPMVersion, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Build: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	m2, err := Build(ctx, cache, pins.NodeVersion, pins.NPMVersion, t.Logf)
	if err != nil || !reflect.DeepEqual(m, m2) {
		t.Fatalf("second Build: %+v, %v; want %+v", m2, err, m)
	}
	t.Logf("cached Build: %v", time.Since(start).Round(time.Millisecond))

	arch, _ := Arch(runtime.GOARCH)
	name := TarballName(pins.NodeVersion, arch)
	verDir := filepath.Join(m.Dir, "v"+pins.NodeVersion)
	sum, err := fileSHA256(filepath.Join(verDir, name))
	if err != nil {
		t.Fatal(err)
	}
	shasums, _ := os.ReadFile(filepath.Join(verDir, "SHASUMS256.txt"))
	if string(shasums) != sum+"  "+name+"\n" || m.Files[name] != sum || len(m.Files) != 1 {
		t.Errorf("SHASUMS256.txt = %q, Files = %v; tarball sha256 %s", shasums, m.Files, sum)
	}

	// Extract as openclawd would, and run the tree's node and npm.
	x := t.TempDir()
	if out, err := exec.CommandContext(ctx, "tar", "-xJf", filepath.Join(verDir, name), "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar -xJf: %v\n%s", err, out)
	}
	bin := filepath.Join(x, strings.TrimSuffix(name, ".tar.xz"), "bin")
	if fi, err := os.Stat(filepath.Join(bin, "node")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/node: %v, %v; want mode 0755", fi, err)
	}
	for link, want := range map[string]string{
		"npm": "../lib/node_modules/npm/bin/npm-cli.js",
		"npx": "../lib/node_modules/npm/bin/npx-cli.js",
	} {
		if got, err := os.Readlink(filepath.Join(bin, link)); err != nil || got != want {
			t.Errorf("bin/%s -> %q, %v; want %q", link, got, err, want)
		}
	}
	for _, c := range []struct{ cmd, want string }{
		{"node", "v" + pins.NodeVersion},
		{"npm", pins.NPMVersion},
	} {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, c.cmd), "--version")
		// npm-cli.js starts with "#!/usr/bin/env node": put the tree's node first.
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"npm_config_update_notifier=false")
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != c.want {
			t.Errorf("bin/%s --version = %q, %v; want %q", c.cmd, got, err, c.want)
		}
	}

	url, closeFn, err := Serve(m)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, hex.EncodeToString(h.Sum(nil))
	}
	if code, got := get("/v" + pins.NodeVersion + "/" + name); code != 200 || got != sum {
		t.Errorf("served tarball: %d, sha256 %s; want 200, %s", code, got, sum)
	}
	shaSum := sha256.Sum256(shasums)
	if code, got := get("/v" + pins.NodeVersion + "/SHASUMS256.txt"); code != 200 || got != hex.EncodeToString(shaSum[:]) {
		t.Errorf("served SHASUMS256.txt: %d, sha256 %s", code, got)
	}
	if code, _ := get("/v0.0.0/SHASUMS256.txt"); code != 404 {
		t.Errorf("missing file: %d; want 404", code)
	}
}
