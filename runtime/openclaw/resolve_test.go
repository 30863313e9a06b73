package openclaw

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/nodemirror"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/pins"
)

func TestCheckLock(t *testing.T) {
	const integ = "sha512-abc"
	base := func() map[string]any {
		return map[string]any{"lockfileVersion": 3, "packages": map[string]any{
			"":                                     map[string]any{"name": "openclawd-runtime", "dependencies": map[string]any{"openclaw": "1.2.3"}},
			"node_modules/openclaw":                map[string]any{"version": "1.2.3", "integrity": integ},
			"node_modules/a":                       map[string]any{"version": "1.0.0", "integrity": "sha512-a"},
			"node_modules/openclaw/node_modules/b": map[string]any{"version": "1.0.0", "inBundle": true},
			"node_modules/c":                       map[string]any{"link": true},
		}}
	}
	pkgs := func(m map[string]any) map[string]any { return m["packages"].(map[string]any) }
	for _, tc := range []struct {
		name    string
		edit    func(map[string]any)
		errPart string
	}{
		{"ok", func(map[string]any) {}, ""},
		{"resolved URL", func(m map[string]any) {
			pkgs(m)["node_modules/a"].(map[string]any)["resolved"] = "https://registry.example/a/-/a-1.0.0.tgz"
		}, `"resolved" URLs`},
		{"nested resolved URL", func(m map[string]any) {
			m["extra"] = []any{map[string]any{"resolved": "http://registry.example/x.tgz"}}
		}, "http://registry.example/x.tgz"},
		{"relative resolved", func(m map[string]any) {
			pkgs(m)["node_modules/a"].(map[string]any)["resolved"] = "file:../a"
		}, ""},
		{"no integrity", func(m map[string]any) { delete(pkgs(m)["node_modules/a"].(map[string]any), "integrity") }, "without integrity: node_modules/a"},
		{"wrong openclaw", func(m map[string]any) { pkgs(m)["node_modules/openclaw"].(map[string]any)["integrity"] = "sha512-x" }, "node_modules/openclaw is"},
		{"root wants another", func(m map[string]any) {
			pkgs(m)[""].(map[string]any)["dependencies"] = map[string]any{"openclaw": "^1.2.3"}
		}, `root depends on openclaw "^1.2.3"`},
		{"old lockfile", func(m map[string]any) { m["lockfileVersion"] = 1; delete(m, "packages") }, "lockfileVersion 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			data, _ := json.Marshal(m)
			n, err := CheckLock(data, "1.2.3", integ)
			if tc.errPart == "" {
				if err != nil || n != 4 {
					t.Fatalf("got %d, %v; want 4, nil", n, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.errPart)
			}
		})
	}
	if _, err := CheckLock([]byte("not json"), "1.2.3", integ); err == nil {
		t.Error("CheckLock accepted a lock that is not JSON")
	}
}

// TestResolveRefusesBeforeNPM: a value that is not a plain release never
// reaches npm, so the Node here need not exist.
func TestResolveRefusesBeforeNPM(t *testing.T) {
	noNode := node.Install{Dir: filepath.Join(t.TempDir(), "no-node")}
	ok := Published{Version: "2026.9.5", EnginesNode: ">=24", Integrity: "sha512-x"}
	for _, tc := range []struct {
		name    string
		run     func() error
		errPart string
	}{
		{"view option", func() error {
			_, err := View(context.Background(), noNode, t.TempDir(), "--foo")
			return err
		}, `openclaw version: version "--foo" is not MAJOR.MINOR.PATCH`},
		{"view dist-tag", func() error {
			_, err := View(context.Background(), noNode, t.TempDir(), "latest")
			return err
		}, `openclaw version: version "latest"`},
		{"lock option", func() error {
			p := ok
			p.Version = "--registry=http://evil"
			_, err := ResolveLock(context.Background(), noNode, t.TempDir(), t.TempDir(), p)
			return err
		}, `openclaw version: version "--registry=http://evil"`},
		{"lock integrity", func() error {
			p := ok
			p.Integrity = "sha1-abc"
			_, err := ResolveLock(context.Background(), noNode, t.TempDir(), t.TempDir(), p)
			return err
		}, `integrity "sha1-abc" is not sha512`},
		{"lock dir missing", func() error {
			_, err := ResolveLock(context.Background(), noNode, t.TempDir(), filepath.Join(t.TempDir(), "nope"), ok)
			return err
		}, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.errPart)
			}
		})
	}
}

// testNode provisions the pinned Node as openclawd does, from a local
// mirror built from the npm registry (internal/nodemirror): the official
// download site may be unreachable, the registry is not.
func testNode(t *testing.T, ctx context.Context) node.Install {
	t.Helper()
	if goruntime.GOOS != "linux" {
		t.Skip("internal/nodemirror builds linux mirrors only")
	}
	m, err := nodemirror.Build(ctx, nodemirror.DefaultCacheDir(), pins.NodeVersion, pins.NPMVersion, t.Logf)
	if err != nil {
		t.Fatalf("building the Node mirror: %v", err)
	}
	url, stop, err := nodemirror.Serve(m)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	arch, _ := nodemirror.Arch(goruntime.GOARCH)
	platform, _ := node.Platform()
	t.Setenv(node.MirrorEnv, "")
	n, err := node.Ensure(ctx, node.Options{Root: t.TempDir(), Version: pins.NodeVersion, Mirror: url,
		SHA256: map[string]string{platform: m.Files[nodemirror.TarballName(pins.NodeVersion, arch)]}})
	if err != nil {
		t.Fatalf("provisioning Node: %v", err)
	}
	return n
}

// TestViewAndResolveLock asks the npm registry (the host's npm
// configuration) about a real openclaw release with the pinned Node's own
// npm and resolves its lock: about a minute, nothing installed.
func TestViewAndResolveLock(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the npm registry")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n := testNode(t, ctx)
	cache := filepath.Join(t.TempDir(), "npm-cache")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // npm's scratch dirs go here and must be gone after

	const (
		version   = "2026.9.5"
		engines   = ">=24.16.0 <25 || >=26.1.0"
		integrity = "sha512-TCO/ImVLh5HkF4tdfo7iriIa7kT6iYkIr/jR5ZOkePGFGhUx5Oe7DE716Y1DzzG2teRAVDdCjgJDu1A24Yta7w=="
	)
	start := time.Now()
	p, err := View(ctx, n, cache, version)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("View: %+v in %v", p, time.Since(start).Round(time.Millisecond))
	if want := (Published{Version: version, EnginesNode: engines, Integrity: integrity}); p != want {
		t.Errorf("View = %+v; want %+v", p, want)
	}

	t.Run("unpublished", func(t *testing.T) {
		_, err := View(ctx, n, cache, "2026.0.0")
		if err == nil || !strings.HasPrefix(err.Error(), "openclaw 2026.0.0 is not published on the registry npm is configured with (") ||
			!strings.HasSuffix(err.Error(), "): check the version (`npm view openclaw versions`)") {
			t.Fatalf("err = %v; want the not-published sentence", err)
		}
		t.Log(err)
	})

	dir := t.TempDir()
	start = time.Now()
	packages, err := ResolveLock(ctx, n, cache, dir, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ResolveLock: %d packages in %v", packages, time.Since(start).Round(time.Millisecond))
	if packages <= 100 {
		t.Errorf("ResolveLock = %d packages; want > 100", packages)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err != nil ||
		string(b) != `{"name":"openclawd-runtime","private":true,"dependencies":{"openclaw":"2026.9.5"}}`+"\n" {
		t.Errorf("package.json = %q, %v", b, err)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(lock), `"resolved"`) {
		t.Error(`package-lock.json has "resolved" keys`)
	}
	if es, _ := os.ReadDir(dir); len(es) != 2 {
		t.Errorf("%s holds %d entries; want package.json and package-lock.json only", dir, len(es))
	}
	if es, _ := os.ReadDir(tmp); len(es) != 0 {
		t.Errorf("npm's scratch dirs left in TMPDIR: %v", es)
	}
	if es, _ := os.ReadDir(cache); len(es) == 0 {
		t.Error("npm did not use the given cache")
	}
}
