package openclaw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/openclawd/openclawd/internal/caps"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/internal/semver"
	"github.com/openclawd/openclawd/runtime/fetch"
	"github.com/openclawd/openclawd/runtime/node"
)

// Published is what the registry says about one openclaw release.
type Published struct {
	Version     string
	EnginesNode string // the package's engines.node range
	Integrity   string // dist.integrity of its tarball, sha512-…
}

// View asks the registry about openclaw@version with the given runtime's
// own npm, configured as Ensure configures it (the host's registry, CA and
// proxies), so the answer comes from where an install would download.
func View(ctx context.Context, n node.Install, cacheDir, version string) (Published, error) {
	// A plain release only: nothing else may reach npm's command line.
	if err := semver.Valid(version); err != nil {
		return Published{}, fmt.Errorf("openclaw version: %w", err)
	}
	settings := hostNPMSettings(ctx)
	var stdout, stderr bytes.Buffer
	err := inScratch(ctx, n, cacheDir, settings, "", &stdout, &stderr,
		"view", "openclaw@"+version, "version", "engines.node", "dist.integrity", "--json")
	// --json puts npm's error on stdout too; warnings ("Unknown user
	// config") stay on stderr.
	var out struct {
		Version     string `json:"version"`
		EnginesNode string `json:"engines.node"`
		Integrity   string `json:"dist.integrity"`
		Error       struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	jsonErr := json.Unmarshal(stdout.Bytes(), &out)
	notFound := out.Error.Code == "E404" || out.Error.Code == "ETARGET" ||
		strings.Contains(stdout.String()+stderr.String(), "No match found") ||
		(err == nil && len(bytes.TrimSpace(stdout.Bytes())) == 0) // older npm: silence for a missing version
	switch {
	case notFound:
		return Published{}, fmt.Errorf("openclaw %s is not published on the registry npm is configured with (%s): check the version (`npm view openclaw versions`)",
			version, fetch.Redact(registry(ctx, n, cacheDir, settings)))
	case err != nil:
		return Published{}, fmt.Errorf("npm view openclaw@%s: %w\n%s", version, err, tailText(stderr.String()+stdout.String(), 20))
	case jsonErr != nil:
		return Published{}, fmt.Errorf("npm view openclaw@%s: unexpected output %q: %w", version, tailText(stdout.String(), 5), jsonErr)
	case out.Version != version:
		return Published{}, fmt.Errorf("npm view openclaw@%s: the registry answered with version %q", version, out.Version)
	case out.EnginesNode == "":
		return Published{}, fmt.Errorf("openclaw %s declares no engines.node: cannot tell which Node it needs", version)
	case !strings.HasPrefix(out.Integrity, "sha512-"):
		return Published{}, fmt.Errorf("openclaw %s has no sha512 dist.integrity (got %q): cannot verify its tarball", version, out.Integrity)
	}
	return Published{Version: out.Version, EnginesNode: out.EnginesNode, Integrity: out.Integrity}, nil
}

// registry is the registry the runtime's npm uses, as npm itself reports
// it (the host's global npmrc may set it), for messages.
func registry(ctx context.Context, n node.Install, cacheDir string, settings npmSettings) string {
	var stdout, stderr bytes.Buffer
	if inScratch(ctx, n, cacheDir, settings, "", &stdout, &stderr, "config", "get", "registry") == nil {
		if r := strings.TrimSpace(stdout.String()); r != "" && !strings.ContainsAny(r, "\n ") {
			return r
		}
	}
	return orDefault(settings.Registry, "npm's default")
}

// ResolveLock writes package.json for p.Version into dir, which must exist,
// and has the given runtime's npm resolve package-lock.json there without
// installing anything or running scripts. The lock names no registry (no
// "resolved" URLs) and must pass CheckLock; it returns the package count.
func ResolveLock(ctx context.Context, n node.Install, cacheDir, dir string, p Published) (packages int, err error) {
	if err := semver.Valid(p.Version); err != nil {
		return 0, fmt.Errorf("openclaw version: %w", err)
	}
	if !strings.HasPrefix(p.Integrity, "sha512-") {
		return 0, fmt.Errorf("resolving openclaw %s: integrity %q is not sha512", p.Version, p.Integrity)
	}
	if fi, err := os.Stat(dir); err != nil {
		return 0, fmt.Errorf("resolving openclaw %s: %w", p.Version, err)
	} else if !fi.IsDir() {
		return 0, fmt.Errorf("resolving openclaw %s: %s is not a directory", p.Version, dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), packageJSON(p.Version), 0o644); err != nil {
		return 0, fmt.Errorf("resolving openclaw %s: %w", p.Version, err)
	}
	// npm would start from a lock already there and keep what it pins.
	if err := os.Remove(filepath.Join(dir, "package-lock.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("resolving openclaw %s: %w", p.Version, err)
	}
	var out bytes.Buffer
	if err := inScratch(ctx, n, cacheDir, hostNPMSettings(ctx), dir, &out, &out,
		"install", "--package-lock-only", "--ignore-scripts", "--omit-lockfile-registry-resolved"); err != nil {
		return 0, fmt.Errorf("resolving openclaw %s: npm install --package-lock-only: %w\n%s", p.Version, err, tailText(out.String(), 20))
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return 0, fmt.Errorf("resolving openclaw %s: %w", p.Version, err)
	}
	packages, err = CheckLock(lock, p.Version, p.Integrity)
	if err != nil {
		return 0, fmt.Errorf("resolving openclaw %s: package-lock.json: %w", p.Version, err)
	}
	return packages, nil
}

// inScratch runs the pinned npm (npmCmd) with its userconfig, HOME and
// TMPDIR in a private temporary directory that is removed afterwards. npm
// works in dir, or in that directory's .tmp if dir is "".
func inScratch(ctx context.Context, n node.Install, cacheDir string, settings npmSettings, dir string, stdout, stderr io.Writer, args ...string) (err error) {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return fmt.Errorf("creating npm cache %s: %w", cacheDir, err)
	}
	scratch, err := os.MkdirTemp("", "openclawd-npm-")
	if err != nil {
		return fmt.Errorf("creating npm's scratch dir: %w", err)
	}
	defer func() {
		if rerr := fsutil.RemoveAll(scratch); err == nil && rerr != nil {
			err = fmt.Errorf("removing npm's scratch dir: %w", rerr)
		}
	}()
	rc, err := prepareScratch(scratch, settings)
	if err != nil {
		return err
	}
	if dir == "" {
		dir = filepath.Join(scratch, ".tmp")
	}
	cmd := npmCmd(ctx, n, cacheDir, dir, scratch, rc, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return caps.Run(cmd)
}

type lockEntry struct {
	Version      string            `json:"version"`
	Integrity    string            `json:"integrity"`
	Link         bool              `json:"link"`
	InBundle     bool              `json:"inBundle"`
	Dependencies map[string]string `json:"dependencies"`
}

// CheckLock enforces what `npm ci` from a resolved lock relies on: openclaw
// at version with integrity, an integrity for every downloaded package,
// and no URLs (which would name a registry host). It returns the number of
// packages, the root project excluded.
func CheckLock(data []byte, version, integrity string) (int, error) {
	var lock struct {
		LockfileVersion int                  `json:"lockfileVersion"`
		Packages        map[string]lockEntry `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return 0, err
	}
	if lock.LockfileVersion < 2 || len(lock.Packages) == 0 {
		return 0, fmt.Errorf("lockfileVersion %d without a packages section", lock.LockfileVersion)
	}
	if got := lock.Packages[""].Dependencies["openclaw"]; got != version {
		return 0, fmt.Errorf("root depends on openclaw %q, want %q", got, version)
	}
	if e := lock.Packages["node_modules/openclaw"]; e.Version != version || e.Integrity != integrity {
		return 0, fmt.Errorf("node_modules/openclaw is %s %s, want %s %s", e.Version, e.Integrity, version, integrity)
	}
	var bad []string
	for k, e := range lock.Packages {
		// Bundled packages arrive inside their parent's verified tarball.
		if k != "" && !e.Link && !e.InBundle && e.Integrity == "" {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return 0, fmt.Errorf("%d entries without integrity: %s", len(bad), strings.Join(bad, ", "))
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return 0, err
	}
	if urls := resolvedURLs(tree, nil); len(urls) > 0 {
		return 0, fmt.Errorf("%d \"resolved\" URLs (need --omit-lockfile-registry-resolved and registry-only deps), e.g. %s", len(urls), urls[0])
	}
	return len(lock.Packages) - 1, nil
}

// resolvedURLs collects every "resolved" value containing "://", at any depth.
func resolvedURLs(v any, acc []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "resolved" && strings.Contains(s, "://") {
				acc = append(acc, s)
			}
			acc = resolvedURLs(x, acc)
		}
	case []any:
		for _, x := range v {
			acc = resolvedURLs(x, acc)
		}
	}
	return acc
}
