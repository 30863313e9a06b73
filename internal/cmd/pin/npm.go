package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// npm is always run from a temp dir with the user's own configuration
// (registry, auth, cache), never with a registry address of ours.

type viewInfo struct {
	Version     string `json:"version"`
	EnginesNode string `json:"engines.node"`
	Integrity   string `json:"dist.integrity"`
}

func runNPM(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm %s: %w\n%s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// npmView returns the fields of one exact package version that pin needs.
func npmView(ctx context.Context, spec string) (viewInfo, error) {
	var v viewInfo
	out, err := runNPM(ctx, os.TempDir(), "view", spec, "version", "engines.node", "dist.integrity", "--json")
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return v, fmt.Errorf("npm view %s: unexpected output: %w", spec, err)
	}
	if _, want, _ := strings.Cut(spec, "@"); v.Version != want {
		return v, fmt.Errorf("npm view %s: got version %q", spec, v.Version)
	}
	if v.EnginesNode == "" || !strings.HasPrefix(v.Integrity, "sha512-") {
		return v, fmt.Errorf("npm view %s: missing engines.node or sha512 dist.integrity: %+v", spec, v)
	}
	return v, nil
}

type lockResult struct {
	packageJSON, lockJSON []byte
	packages              int // entries in the lock, the root project excluded
}

// makeLock resolves openclaw@clawV into a lockfile without installing it.
func makeLock(ctx context.Context, clawV, integrity string) (*lockResult, error) {
	dir, err := os.MkdirTemp("", "openclawd-pin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pkg, _ := json.MarshalIndent(struct {
		Name         string            `json:"name"`
		Private      bool              `json:"private"`
		Dependencies map[string]string `json:"dependencies"`
	}{"openclawd-runtime", true, map[string]string{"openclaw": clawV}}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "package.json"), append(pkg, '\n'), 0o644); err != nil {
		return nil, err
	}
	// --loglevel=error: the npm running here is not the pinned Node's, so its
	// EBADENGINE warnings are noise. Resolution is platform-independent.
	if _, err := runNPM(ctx, dir, "install", "--package-lock-only", "--ignore-scripts",
		"--no-audit", "--no-fund", "--no-update-notifier", "--omit-lockfile-registry-resolved",
		"--loglevel=error"); err != nil {
		return nil, err
	}
	r := &lockResult{}
	if r.packageJSON, err = os.ReadFile(filepath.Join(dir, "package.json")); err != nil {
		return nil, err
	}
	if r.lockJSON, err = os.ReadFile(filepath.Join(dir, "package-lock.json")); err != nil {
		return nil, err
	}
	if r.packages, err = checkLock(r.lockJSON, clawV, integrity); err != nil {
		return nil, fmt.Errorf("check package-lock.json: %w", err)
	}
	return r, nil
}

type lockEntry struct {
	Version      string            `json:"version"`
	Integrity    string            `json:"integrity"`
	Link         bool              `json:"link"`
	InBundle     bool              `json:"inBundle"`
	Dependencies map[string]string `json:"dependencies"`
}

// checkLock enforces what `npm ci` from the repo relies on: openclaw at the
// pinned version and integrity, an integrity for every downloaded package,
// and no URLs (which would name a registry host). It returns the count.
func checkLock(data []byte, clawV, integrity string) (int, error) {
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
	if got := lock.Packages[""].Dependencies["openclaw"]; got != clawV {
		return 0, fmt.Errorf("root depends on openclaw %q, want %q", got, clawV)
	}
	if e := lock.Packages["node_modules/openclaw"]; e.Version != clawV || e.Integrity != integrity {
		return 0, fmt.Errorf("node_modules/openclaw is %s %s, want %s %s", e.Version, e.Integrity, clawV, integrity)
	}
	var bad []string
	for k, e := range lock.Packages {
		// Bundled packages arrive inside their parent's verified tarball.
		if k != "" && !e.Link && !e.InBundle && e.Integrity == "" {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
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
