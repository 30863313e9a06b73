package npmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/nodemirror"
	"github.com/openclawd/openclawd/runtime/pins"
)

const fakeVersion = "2026.99.0"

// TestFailingOpenclawThroughNPM drives the real npm against the registry the
// way openclawd's upgrade does: view, lock without resolved URLs, npm ci.
func TestFailingOpenclawThroughNPM(t *testing.T) {
	npm := lookNPM(t)
	node := lookNode(t, npm)
	reg := Start(t, FailingOpenclaw(fakeVersion))
	t.Logf("registry %s, upstream %s", reg.URL, reg.Upstream)
	want := reg.Integrity("openclaw", fakeVersion)
	if want == "" {
		t.Fatalf("Integrity(openclaw, %s) is empty", fakeVersion)
	}

	dir := t.TempDir()
	cache := t.TempDir() // private: nothing from another registry or run
	env := withEnv(os.Environ(), "npm_config_registry", reg.URL)
	npmRun := func(args ...string) string {
		t.Helper()
		return mustRun(t, dir, env, npm, append(args, "--cache", cache)...)
	}

	var view struct {
		Version   string `json:"version"`
		Integrity string `json:"dist.integrity"`
		Engines   string `json:"engines.node"`
	}
	out := npmRun("view", "openclaw@"+fakeVersion, "version", "dist.integrity", "engines.node", "--json")
	if err := json.Unmarshal([]byte(out), &view); err != nil {
		t.Fatalf("npm view openclaw@%s: parse %q: %v", fakeVersion, out, err)
	}
	if view.Version != fakeVersion || view.Integrity != want || view.Engines != OpenclawEngines {
		t.Fatalf("npm view openclaw@%s = %+v; want version %s, integrity %s, engines %q", fakeVersion, view, fakeVersion, want, OpenclawEngines)
	}

	// A real version still resolves, through the proxy.
	var real string
	out = npmRun("view", "openclaw@"+pins.OpenclawVersion, "version", "--json")
	if err := json.Unmarshal([]byte(out), &real); err != nil || real != pins.OpenclawVersion {
		t.Fatalf("npm view openclaw@%s version = %q (%v); want the real version", pins.OpenclawVersion, out, err)
	}
	// dist-tags stay upstream's: nothing installs the fake unless asked to.
	var latest string
	out = npmRun("view", "openclaw", "dist-tags.latest", "--json")
	if err := json.Unmarshal([]byte(out), &latest); err != nil || latest == "" || latest == fakeVersion {
		t.Fatalf("npm view openclaw dist-tags.latest = %q (%v); want upstream's latest", out, err)
	}

	pj := `{"name": "npmtest-consumer", "version": "0.0.0", "private": true, "dependencies": {"openclaw": "` + fakeVersion + `"}}`
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pj), 0o644); err != nil {
		t.Fatal(err)
	}
	npmRun("install", "--package-lock-only", "--ignore-scripts", "--omit-lockfile-registry-resolved")
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Resolved  string `json:"resolved"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatalf("npm install --package-lock-only: %v", err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	got := lock.Packages["node_modules/openclaw"]
	if got.Version != fakeVersion || got.Integrity != want || got.Resolved != "" {
		t.Fatalf("lock entry node_modules/openclaw = %+v; want version %s, integrity %s, no resolved\n%s", got, fakeVersion, want, b)
	}

	npmRun("ci")
	out = mustRun(t, dir, os.Environ(), node, filepath.Join("node_modules", "openclaw", "openclaw.mjs"), "--version")
	if w := "OpenClaw " + fakeVersion + " (fake)"; strings.TrimSpace(out) != w {
		t.Fatalf("openclaw --version = %q; want %q", out, w)
	}
	if _, err := os.Lstat(filepath.Join(dir, "node_modules", ".bin", "openclaw")); err != nil {
		t.Fatalf("npm ci linked no openclaw bin: %v", err)
	}
}

// TestFailingOpenclawCommands runs the fake's openclaw.mjs, as packed, with
// a Node that has node:sqlite (the gateway migrates a real database).
func TestFailingOpenclawCommands(t *testing.T) {
	node := sqliteNode(t)
	tb, err := build(FailingOpenclaw(fakeVersion))
	if err != nil {
		t.Fatal(err)
	}
	pkgDir := t.TempDir()
	untgz(t, tb.tgz, pkgDir)
	script := filepath.Join(pkgDir, "package", "openclaw.mjs")

	t.Run("version", func(t *testing.T) {
		t.Parallel()
		out := mustRun(t, "", os.Environ(), node, script, "--version")
		if w := "OpenClaw " + fakeVersion + " (fake)\n"; out != w {
			t.Fatalf("--version = %q; want %q", out, w)
		}
	})
	t.Run("preflight", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "state", "openclaw.sqlite")
		start := time.Now()
		out := mustRun(t, "", os.Environ(), node, script, "database", "preflight", db, "--json")
		// The delay is what lets an upgrade test catch this step.
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("preflight took %v; want at least 2s", d)
		}
		want, _ := json.Marshal(map[string]any{"schema": "openclaw.state-schema-preflight.v1", "databasePath": db, "targetVersion": 18, "foundVersion": 18, "issues": []any{}, "status": "exact", "requiresWrite": false})
		if !jsonEqual(t, out, string(want)) {
			t.Fatalf("preflight = %s; want %s", out, want)
		}
	})
	t.Run("gateway run", func(t *testing.T) {
		t.Parallel()
		state := t.TempDir()
		db := filepath.Join(state, "state", "openclaw.sqlite")
		if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
			t.Fatal(err)
		}
		mustRun(t, "", os.Environ(), node, "-e", `const {DatabaseSync} = require("node:sqlite");
const db = new DatabaseSync(process.argv[1]);
db.exec("CREATE TABLE config(k TEXT); PRAGMA user_version=18");
db.close();`, db)

		env := withEnv(os.Environ(), "OPENCLAW_STATE_DIR", state)
		stdout, stderr, err := run(t, "", env, node, script, "gateway", "run", "--port", "0")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("gateway run: %v (want exit status 1)\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
		if w := "fake openclaw " + fakeVersion + ": simulated startup failure after migrating the state database"; !strings.Contains(stderr, w) {
			t.Fatalf("gateway run stderr = %q; want it to contain %q", stderr, w)
		}

		out := mustRun(t, "", os.Environ(), node, "-e", `const {DatabaseSync} = require("node:sqlite");
const db = new DatabaseSync(process.argv[1], {readOnly: true});
const r = {userVersion: db.prepare("PRAGMA user_version").get().user_version,
  markers: db.prepare("SELECT v FROM fake_upgrade_marker").all().map((x) => x.v)};
db.close();
console.log(JSON.stringify(r));`, db)
		if !jsonEqual(t, out, `{"userVersion": 99, "markers": ["`+fakeVersion+`"]}`) {
			t.Fatalf("database after gateway run = %s; want user_version 99 and one marker %s", out, fakeVersion)
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		t.Parallel()
		_, stderr, err := run(t, "", os.Environ(), node, script, "onboard")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr, "fake openclaw: unsupported command") {
			t.Fatalf("onboard: %v, stderr %q; want exit status 2 and the unsupported message", err, stderr)
		}
	})
}

// TestRegistryAgainstFakeUpstream checks the merging and proxying details
// against an upstream that misbehaves the ways real ones may (gzip although
// identity was asked for, ETags, a base path), without the network.
func TestRegistryAgainstFakeUpstream(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.EscapedPath())
		mu.Unlock()
		var doc map[string]any
		switch r.URL.EscapedPath() {
		case "/base/openclaw":
			doc = map[string]any{"name": "openclaw", "dist-tags": map[string]string{"latest": "1.0.0"},
				"versions": map[string]any{"1.0.0": map[string]any{"name": "openclaw", "version": "1.0.0"}}}
		case "/base/@scope%2Fthing":
			doc = map[string]any{"name": "@scope/thing", "dist-tags": map[string]string{"latest": "0.9.0"},
				"versions": map[string]any{"0.9.0": map[string]any{"name": "@scope/thing", "version": "0.9.0"}}}
		case "/base/openclaw/-/openclaw-1.0.0.tgz":
			io.WriteString(w, "real tarball")
			return
		default:
			http.NotFound(w, r)
			return
		}
		ct := "application/json"
		if strings.Contains(r.Header.Get("Accept"), abbreviated) {
			ct = abbreviated
		} else {
			doc["time"] = map[string]string{"1.0.0": "2020-01-01T00:00:00.000Z"}
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("ETag", `"upstream"`)
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		json.NewEncoder(zw).Encode(doc)
		zw.Close()
	}))
	t.Cleanup(up.Close)
	t.Setenv("npm_config_registry", up.URL+"/base") // no trailing slash: Start adds it

	scoped := Package{Name: "@scope/thing", Version: "1.0.0", Files: map[string]string{"index.js": "export {}\n"}}
	reg := Start(t, FailingOpenclaw(fakeVersion), scoped, Package{Name: "only-fake", Version: "0.1.0"})
	if reg.Upstream != up.URL+"/base/" {
		t.Fatalf("Upstream = %q; want %q", reg.Upstream, up.URL+"/base/")
	}

	get := func(path, accept string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, reg.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v: %s", path, resp.Status, err, b)
		}
		return resp, b
	}
	type packument struct {
		DistTags map[string]string `json:"dist-tags"`
		Versions map[string]struct {
			Bin     map[string]string `json:"bin"`
			Engines map[string]string `json:"engines"`
			Dist    struct{ Tarball, Integrity, Shasum string }
		} `json:"versions"`
		Time map[string]string `json:"time"`
	}
	packumentOf := func(path, accept string) packument {
		t.Helper()
		resp, b := get(path, accept)
		if h := resp.Header; h.Get("ETag") != "" || h.Get("Content-Encoding") != "" || h.Get("Content-Length") != fmt.Sprint(len(b)) {
			t.Errorf("GET %s: headers %v for a %d-byte body; want no ETag or encoding, a matching length", path, h, len(b))
		}
		var p packument
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
		return p
	}

	full := packumentOf("openclaw", "application/json")
	v := full.Versions[fakeVersion]
	if _, ok := full.Versions["1.0.0"]; !ok || full.DistTags["latest"] != "1.0.0" || full.Time[fakeVersion] == "" || full.Time["1.0.0"] == "" {
		t.Fatalf("full packument %+v; want upstream's 1.0.0, latest and time, plus time[%s]", full, fakeVersion)
	}
	if v.Dist.Tarball != reg.URL+"openclaw/-/openclaw-"+fakeVersion+".tgz" || v.Dist.Integrity != reg.Integrity("openclaw", fakeVersion) ||
		len(v.Dist.Shasum) != 40 || v.Engines["node"] != OpenclawEngines || v.Bin["openclaw"] != "openclaw.mjs" {
		t.Fatalf("fake version in packument = %+v", v)
	}
	corgi := packumentOf("openclaw", abbreviated+"; q=1.0, application/json; q=0.8, */*")
	if _, ok := corgi.Versions[fakeVersion]; !ok || corgi.Time != nil {
		t.Fatalf("abbreviated packument %+v; want the fake version and no time", corgi)
	}
	sc := packumentOf("@scope%2fthing", "")
	if _, ok := sc.Versions["0.9.0"]; !ok || sc.Versions["1.0.0"].Dist.Tarball != reg.URL+"@scope/thing/-/thing-1.0.0.tgz" {
		t.Fatalf("scoped packument %+v; want upstream's 0.9.0 and the fake 1.0.0", sc)
	}
	if of := packumentOf("only-fake", ""); of.DistTags["latest"] != "0.1.0" || len(of.Versions) != 1 {
		t.Fatalf("packument of a name unknown upstream = %+v; want the fake alone as latest", of)
	}

	_, tgz := get("openclaw/-/openclaw-"+fakeVersion+".tgz", "")
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != v.Dist.Integrity {
		t.Fatalf("served tarball integrity %s; packument says %s", got, v.Dist.Integrity)
	}
	dir := t.TempDir()
	untgz(t, tgz, dir)
	var pj map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "package", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pj)
	}
	if err != nil || pj["name"] != "openclaw" || pj["version"] != fakeVersion || pj["type"] != nil ||
		fmt.Sprint(pj["bin"]) != "map[openclaw:openclaw.mjs]" || fmt.Sprint(pj["engines"]) != "map[node:"+OpenclawEngines+"]" {
		t.Fatalf("package.json in tarball = %s (%v)", b, err)
	}
	// Same Package, same bytes: integrity is stable across runs.
	again, err := build(FailingOpenclaw(fakeVersion))
	if err != nil || again.integrity != v.Dist.Integrity {
		t.Fatalf("rebuilt tarball integrity %v (%v); want %s", again, err, v.Dist.Integrity)
	}

	if _, b := get("openclaw/-/openclaw-1.0.0.tgz", ""); string(b) != "real tarball" {
		t.Fatalf("proxied tarball = %q", b)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "/base/openclaw/-/openclaw-1.0.0.tgz"; !strings.Contains(strings.Join(seen, " "), want) {
		t.Fatalf("upstream saw %v; want %s (the base path kept)", seen, want)
	}
}

func TestStartRejectsBadPackages(t *testing.T) {
	for _, p := range []Package{
		{Name: "Bad Name", Version: "1.0.0"},
		{Name: "x", Version: ""},
		{Name: "x", Version: "1.0.0", Files: map[string]string{"../escape": ""}},
		{Name: "x", Version: "1.0.0", Files: map[string]string{"package.json": "{}"}},
	} {
		if _, err := build(p); err == nil {
			t.Errorf("build(%+v) succeeded; want an error", p)
		}
	}
}

// lookNPM fails, not skips: these tests are what says a fake release
// installs with the real npm.
func lookNPM(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is not on PATH; these tests need the real npm and the npm registry (apt-get install npm): %v", err)
	}
	return npm
}

// lookNode is the node on PATH, else the one installed next to npm.
func lookNode(t *testing.T, npm string) string {
	t.Helper()
	if n, err := exec.LookPath("node"); err == nil {
		return n
	}
	dirs := []string{filepath.Dir(npm)}
	if real, err := filepath.EvalSymlinks(npm); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		n := filepath.Join(d, "node")
		if fi, err := os.Stat(n); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return n
		}
	}
	t.Fatalf("node is neither on PATH nor next to npm (%s, looked in %v)", npm, dirs)
	return ""
}

// sqliteNode is a node with node:sqlite (as Node 24, which openclaw needs):
// the one on PATH if it has it, else the pinned Node from the shared test
// cache (built from the npm registry by nodemirror, as the e2e tests do).
func sqliteNode(t *testing.T) string {
	t.Helper()
	if n, err := exec.LookPath("node"); err == nil {
		if exec.CommandContext(t.Context(), n, "-e", `require("node:sqlite")`).Run() == nil {
			return n
		}
		t.Logf("%s has no node:sqlite; using Node %s from the test cache", n, pins.NodeVersion)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	m, err := nodemirror.Build(ctx, nodemirror.DefaultCacheDir(), pins.NodeVersion, pins.NPMVersion, t.Logf)
	if err != nil {
		t.Fatalf("no node with node:sqlite on PATH, and building Node %s failed: %v", pins.NodeVersion, err)
	}
	arch, err := nodemirror.Arch(goruntime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	name := nodemirror.TarballName(pins.NodeVersion, arch)
	dir := t.TempDir()
	member := strings.TrimSuffix(name, ".tar.xz") + "/bin/node"
	mustRun(t, "", os.Environ(), "tar", "-xJf", filepath.Join(m.Dir, "v"+m.Version, name), "-C", dir, "--strip-components=2", member)
	return filepath.Join(dir, "node")
}

// run runs a command to completion, bounded by the test's context.
func run(t *testing.T, dir string, env []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = 5 * time.Second // a killed npm's children must not hold the pipes
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// mustRun is run that fails the test on an error; stderr, which is mostly
// npm's noise (Debian's npm warns about its nodedir config), is shown only then.
func mustRun(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	stdout, stderr, err := run(t, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// withEnv sets key in env, dropping other spellings (npm reads
// NPM_CONFIG_* case-insensitively).
func withEnv(env []string, key, val string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !strings.EqualFold(k, key) {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+val)
}

func untgz(t *testing.T, tgz []byte, dir string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatalf("untgz: %v", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("untgz: %v", err)
		}
		if !strings.HasPrefix(h.Name, "package/") || h.Typeflag != tar.TypeReg {
			t.Fatalf("untgz: entry %q (type %c); want regular files under package/", h.Name, h.Typeflag)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("untgz %s: %v", h.Name, err)
		}
		if err := os.WriteFile(p, b, os.FileMode(h.Mode)&0o777); err != nil {
			t.Fatal(err)
		}
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("parse %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("parse %q: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
