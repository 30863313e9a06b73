package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/openclawd/openclawd/runtime/openclaw"
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
	if r.packages, err = openclaw.CheckLock(r.lockJSON, clawV, integrity); err != nil {
		return nil, fmt.Errorf("check package-lock.json: %w", err)
	}
	return r, nil
}
