// Package node provisions the pinned Node.js runtime: it downloads the
// official tarball for this platform (or one from a mirror with the same
// layout), verifies its SHA-256 against the pin compiled into openclawd,
// and unpacks it with openclawd's own extractor into
// <root>/node-<version>-<os>-<arch>/, atomically.
package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/runtime/fetch"
)

// DefaultMirror is the official distribution.
const DefaultMirror = "https://nodejs.org/dist"

// MirrorEnv overrides the configured mirror, for air-gapped hosts.
const MirrorEnv = "OPENCLAWD_NODE_MIRROR"

// Options say which Node to provision and where.
type Options struct {
	Root     string            // <state_dir>/runtime
	Version  string            // e.g. 24.21.0
	SHA256   map[string]string // platform -> sha256 of the .tar.xz
	Mirror   string            // base URL; "" = MirrorEnv, else DefaultMirror
	Progress fetch.Progress
	Log      *slog.Logger
}

// Install is a provisioned Node.
type Install struct {
	Dir     string
	Version string
}

// Bin is the node executable, always run by absolute path: the openclaw
// launcher would otherwise "recover" with any node it finds (§1).
func (i Install) Bin() string { return filepath.Join(i.Dir, "bin", "node") }

// NPM is npm's CLI script, run as `node <NPM>`.
func (i Install) NPM() string {
	return filepath.Join(i.Dir, "lib", "node_modules", "npm", "bin", "npm-cli.js")
}

// Platform is this host in Node's naming: linux-x64, darwin-arm64, ….
func Platform() (string, error) {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" || (runtime.GOOS != "linux" && runtime.GOOS != "darwin") {
		return "", fmt.Errorf("no Node.js build for %s/%s (Node 24 needs linux or macOS on x64 or arm64)", runtime.GOOS, runtime.GOARCH)
	}
	return runtime.GOOS + "-" + arch, nil
}

// marker is written inside a complete install before it is renamed into
// place; a directory without it is not trusted.
const marker = ".openclawd-installed"

// Dir is where Version lives for this platform.
func (o Options) Dir() (string, error) {
	p, err := Platform()
	if err != nil {
		return "", err
	}
	return filepath.Join(o.Root, fmt.Sprintf("node-%s-%s", o.Version, p)), nil
}

// Find returns the install if it is complete.
func Find(o Options) (Install, bool) {
	dir, err := o.Dir()
	if err != nil {
		return Install{}, false
	}
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		return Install{}, false
	}
	return Install{Dir: dir, Version: o.Version}, true
}

// Ensure returns the install, provisioning it first if needed.
func Ensure(ctx context.Context, o Options) (Install, error) {
	if in, ok := Find(o); ok {
		return in, nil
	}
	platform, err := Platform()
	if err != nil {
		return Install{}, err
	}
	sum := o.SHA256[platform]
	if sum == "" {
		return Install{}, fetch.Permanent(fmt.Errorf("no pinned SHA-256 for node %s on %s; set node.sha256", o.Version, platform))
	}
	dir, _ := o.Dir()
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return Install{}, fmt.Errorf("creating runtime dir: %w", err)
	}
	// A directory without the marker is a leftover of a run killed between
	// the rename and the marker, or was tampered with: never use it.
	if err := fsutil.RemoveAll(dir); err != nil {
		return Install{}, fmt.Errorf("removing incomplete %s: %w", dir, err)
	}
	name := fmt.Sprintf("node-v%s-%s.tar.xz", o.Version, platform)
	url := fmt.Sprintf("%s/v%s/%s", strings.TrimRight(mirror(o.Mirror), "/"), o.Version, name)
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("downloading Node.js", "version", o.Version, "url", fetch.Redact(url))
	archive, err := fetch.Download(ctx, url, sum, o.Root, o.Progress)
	if err != nil {
		return Install{}, fmt.Errorf("downloading node %s: %w", o.Version, err)
	}
	defer archive.Close() // the verified bytes: open, and no longer by name
	log.Info("unpacking Node.js", "dir", dir)
	// Extract renames the finished tree into place; the marker, written
	// last, is what makes it trusted.
	if err := fetch.Extract(archive, dir, fetch.Limits{}); err != nil {
		return Install{}, fmt.Errorf("installing node %s: %w", o.Version, err)
	}
	if err := checkLayout(dir); err != nil {
		fsutil.RemoveAll(dir)
		return Install{}, fetch.Permanent(fmt.Errorf("installing node %s: %s: %w", o.Version, name, err))
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, marker), []byte(sum+"  "+name+"\n"), 0o644); err != nil {
		return Install{}, fmt.Errorf("installing node %s: %w", o.Version, err)
	}
	return Install{Dir: dir, Version: o.Version}, nil
}

func mirror(configured string) string {
	if m := os.Getenv(MirrorEnv); m != "" {
		return m
	}
	if configured != "" {
		return configured
	}
	return DefaultMirror
}

// checkLayout makes sure the archive was a Node distribution: node and
// npm where openclawd will run them.
func checkLayout(dir string) error {
	in := Install{Dir: dir}
	for _, p := range []string{in.Bin(), in.NPM()} {
		fi, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				rel, _ := filepath.Rel(dir, p)
				return fmt.Errorf("not a Node.js distribution: %s is missing", rel)
			}
			return err
		}
		if p == in.Bin() && fi.Mode()&0o111 == 0 {
			return errors.New("not a Node.js distribution: bin/node is not executable")
		}
	}
	return nil
}
