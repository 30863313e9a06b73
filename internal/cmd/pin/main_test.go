package main

import (
	"bytes"
	"context"
	"encoding/json"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testSums = "testdata/SHASUMS256-v24.21.0.txt"

var wantSums = map[string]string{
	"darwin-x64":   "0ae5a24c24bb7d015cd816c5036b3f90f2945aa872fcf54e58da054753b3a299",
	"darwin-arm64": "6239d4cf92d864487ec8cd3615038f7b67e7f58b77b21cd2f09ea9fbd68065fe",
	"linux-arm64":  "6ad1325edbdb5649c379b75a237147a666c95d4f9ae8d340fef2d1575d289ad2",
	"linux-x64":    "fd8e59d5a511510f6a298afb548f18c7d2b1be404d8b4a27d94fbe49f56cb2d6",
}

func TestNodeSums(t *testing.T) {
	real, err := os.ReadFile(testSums)
	if err != nil {
		t.Fatal(err)
	}
	extra := "aa" + strings.Repeat("0", 62) + "  node-v24.21.0-win-x64.zip\n\n"
	for _, tc := range []struct {
		name, data, version, errPart string
	}{
		{"official", string(real), "24.21.0", ""},
		{"extra lines", extra + string(real), "24.21.0", ""},
		{"other version", string(real), "24.20.0", "lacks node-v24.20.0-darwin-arm64.tar.xz"},
		{"one missing", strings.Join(strings.Split(string(real), "\n")[1:], "\n"), "24.21.0", "lacks node-v24.21.0-darwin-x64.tar.xz"},
		{"short hash", "abc  node-v24.21.0-linux-x64.tar.xz\n", "24.21.0", "line 1: malformed"},
		{"one space", strings.Replace(string(real), "  ", " ", 1), "24.21.0", "line 1: malformed"},
		{"empty", "", "24.21.0", "lacks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nodeSums([]byte(tc.data), tc.version)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v; want it to contain %q", err, tc.errPart)
				}
				return
			}
			if err != nil || len(got) != len(wantSums) {
				t.Fatalf("got %v, %v", got, err)
			}
			for k, v := range wantSums {
				if got[k] != v {
					t.Errorf("%s = %s; want %s", k, got[k], v)
				}
			}
		})
	}
}

func TestLoadNodeSumsFromMirror(t *testing.T) {
	real, _ := os.ReadFile(testSums)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dist/v24.21.0/SHASUMS256.txt" {
			http.NotFound(w, r)
			return
		}
		w.Write(real)
	}))
	defer srv.Close()
	got, err := loadNodeSums(context.Background(), "", srv.URL+"/dist/", "24.21.0")
	if err != nil || got["linux-x64"] != wantSums["linux-x64"] {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := loadNodeSums(context.Background(), "", srv.URL, "24.21.0"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("wrong path: err = %v; want a 404", err)
	}
}

func TestCheckLock(t *testing.T) {
	const integ = "sha512-abc"
	base := func() map[string]any {
		return map[string]any{"lockfileVersion": 3, "packages": map[string]any{
			"":                                     map[string]any{"name": "openclawd-runtime", "dependencies": map[string]any{"openclaw": "1.2.3"}},
			"node_modules/openclaw":                map[string]any{"version": "1.2.3", "integrity": integ},
			"node_modules/a":                       map[string]any{"version": "1.0.0", "integrity": "sha512-a"},
			"node_modules/openclaw/node_modules/b": map[string]any{"version": "1.0.0", "inBundle": true},
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
		{"no integrity", func(m map[string]any) { delete(pkgs(m)["node_modules/a"].(map[string]any), "integrity") }, "without integrity: node_modules/a"},
		{"wrong openclaw", func(m map[string]any) { pkgs(m)["node_modules/openclaw"].(map[string]any)["integrity"] = "sha512-x" }, "node_modules/openclaw is"},
		{"old lockfile", func(m map[string]any) { m["lockfileVersion"] = 1; delete(m, "packages") }, "lockfileVersion 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			data, _ := json.Marshal(m)
			n, err := checkLock(data, "1.2.3", integ)
			if tc.errPart == "" {
				if err != nil || n != 3 {
					t.Fatalf("got %d, %v; want 3, nil", n, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.errPart)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-openclaw", "2026.9.6"},
		{"-node", "24.21.0", "-openclaw", "--registry=x"},
		{"-node", "24.21", "-openclaw", "2026.9.6"},
		{"-node", "24.21.0", "-openclaw", "2026.9.6", "extra"},
	} {
		if err := run(context.Background(), append(args, "-out", t.TempDir()), &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded; want a flag error", args)
		}
	}
}

// TestGenerate runs the generator against the npm registry (npm's own
// configuration): about 30 s, lock only, nothing installed.
func TestGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the npm registry")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	t.Run("engines mismatch", func(t *testing.T) {
		err := run(ctx, []string{"-node", "22.22.0", "-openclaw", "2026.9.6", "-shasums", testSums, "-out", t.TempDir()}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), `openclaw@2026.9.6 requires engines.node ">=24.16.0 <25 || >=26.1.0", which Node 22.22.0 does not satisfy`) {
			t.Fatalf("err = %v; want an engines.node error", err)
		}
	})

	out := t.TempDir()
	var stdout bytes.Buffer
	start := time.Now()
	if err := run(ctx, []string{"-node", "24.21.0", "-openclaw", "2026.9.6", "-npm", "11.21.2", "-shasums", testSums, "-out", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s in %v", strings.TrimSpace(stdout.String()), time.Since(start).Round(time.Millisecond))

	src, err := os.ReadFile(filepath.Join(out, "pins_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "pins_gen.go", src, 0); err != nil {
		t.Fatalf("pins_gen.go does not parse: %v", err)
	}
	for _, want := range []string{
		"// Code generated by internal/cmd/pin; DO NOT EDIT.\n",
		"package pins\n",
		`const NodeVersion = "24.21.0"`,
		`const NPMVersion = "11.21.2"`,
		`const OpenclawVersion = "2026.9.6"`,
		`const OpenclawIntegrity = "sha512-Ie0kyQSCVfFqixsgVg39vevUDq01Ch5u3+7Yu5Y3qARczmdAe+lzp8bVnO9925rHiW/+CFp70zfORCyPmCH31g=="`,
		`"linux-x64":    "` + wantSums["linux-x64"] + `"`,
		`"darwin-arm64": "` + wantSums["darwin-arm64"] + `"`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("pins_gen.go lacks %q:\n%s", want, src)
		}
	}

	var pkg struct {
		Name         string
		Private      bool
		Dependencies map[string]string
	}
	b, _ := os.ReadFile(filepath.Join(out, "openclaw", "package.json"))
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Name != "openclawd-runtime" || !pkg.Private ||
		len(pkg.Dependencies) != 1 || pkg.Dependencies["openclaw"] != "2026.9.6" {
		t.Errorf("package.json = %s (%v)", b, err)
	}
	lock, _ := os.ReadFile(filepath.Join(out, "openclaw", "package-lock.json"))
	if bytes.Contains(lock, []byte(`"resolved"`)) {
		t.Error(`package-lock.json has "resolved" keys`)
	}
	// The registry npm is configured with, read at run time, must not appear.
	reg, err := exec.CommandContext(ctx, "npm", "config", "get", "registry").Output()
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimSpace(string(reg))
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	if host == "" || bytes.Contains(lock, []byte(host)) {
		t.Errorf("package-lock.json mentions the registry host %q", host)
	}
	n, err := checkLock(lock, "2026.9.6", "sha512-Ie0kyQSCVfFqixsgVg39vevUDq01Ch5u3+7Yu5Y3qARczmdAe+lzp8bVnO9925rHiW/+CFp70zfORCyPmCH31g==")
	if err != nil || n < 300 {
		t.Errorf("lock: %d packages, %v; want >= 300", n, err)
	}
}
