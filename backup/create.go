package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/statedir"
)

// Options say what a backup holds and how to reach OpenClaw.
type Options struct {
	Layout statedir.Layout
	// ConfigPath and EnvFile are copied in (EnvFile may be "").
	ConfigPath, EnvFile string
	// Openclaw runs the openclaw CLI as the gateway's own launcher builds
	// it (launch.CLI) and returns its standard output.
	Openclaw         func(ctx context.Context, args ...string) ([]byte, error)
	OpenclawdVersion string
	Now              func() time.Time // default time.Now
	// LockWait is how long to wait for a backup or restore in progress
	// (0: fail at once, as the schedule does).
	LockWait time.Duration
}

// Result is a finished, verified archive.
type Result struct {
	Path     string
	Size     int64
	Took     time.Duration
	Openclaw time.Duration // of Took: OpenClaw's own backup create --verify
	Manifest Manifest
}

// Create makes one verified archive in the backups directory. It holds the
// backups lock, checks the free space first, and publishes the archive
// (rename) only once it is complete, synced and verified against the live
// state: a failure leaves no archive behind, and says why.
func Create(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	dir := o.Layout.Backups()
	unlock, err := Lock(ctx, o.Layout, o.LockWait)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	removePartials(dir)

	live, err := LiveContent(o.Layout)
	if err != nil {
		return Result{}, err
	}
	if err := checkSpace(dir, o.Layout); err != nil {
		return Result{}, err
	}

	// OpenClaw writes its archive into a private scratch directory.
	scratch, err := os.MkdirTemp(dir, ".partial-")
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(scratch)
	ocStart := time.Now()
	innerPath, err := openclawArchive(ctx, o, scratch)
	if err != nil {
		return Result{}, err
	}
	ocTook := time.Since(ocStart)

	created := now().UTC().Truncate(time.Second)
	final := filepath.Join(dir, archiveName(created))
	if _, err := os.Lstat(final); err == nil {
		return Result{}, fmt.Errorf("backup: %s exists already; wait a second and run it again", final)
	}
	partial := filepath.Join(scratch, "archive"+Suffix)
	m, err := writeArchive(partial, innerPath, o, created)
	if err != nil {
		return Result{}, err
	}
	// What is published is what was read back, against the live state.
	if _, err := Verify(partial, VerifyOptions{Live: &live, LiveStateDir: o.Layout.Gateway()}); err != nil {
		return Result{}, fmt.Errorf("backup: the new archive failed verification, so it was not kept: %w", err)
	}
	if err := os.Rename(partial, final); err != nil {
		return Result{}, fmt.Errorf("backup: publishing %s: %w", final, err)
	}
	syncDir(dir)
	fi, err := os.Stat(final)
	if err != nil {
		return Result{}, err
	}
	return Result{Path: final, Size: fi.Size(), Took: time.Since(start), Openclaw: ocTook, Manifest: m}, nil
}

// openclawArchive runs `openclaw backup create --verify` into scratch and
// returns the archive it wrote, refusing a success without one
// (openclaw#122916).
func openclawArchive(ctx context.Context, o Options, scratch string) (string, error) {
	out, err := o.Openclaw(ctx, "backup", "create", "--verify", "--json", "--output", scratch)
	if err != nil {
		return "", fmt.Errorf("backup: `openclaw backup create` failed: %w", err)
	}
	var res struct {
		ArchivePath string `json:"archivePath"`
		Verified    bool   `json:"verified"`
	}
	if i := strings.IndexByte(string(out), '{'); i >= 0 {
		out = out[i:]
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return "", fmt.Errorf("backup: `openclaw backup create --json` printed no result (%v): %.200q", err, out)
	}
	if !res.Verified {
		return "", errors.New("backup: `openclaw backup create --verify` did not verify its archive")
	}
	if filepath.Dir(res.ArchivePath) != filepath.Clean(scratch) {
		return "", fmt.Errorf("backup: openclaw wrote its archive to %s, not to %s", res.ArchivePath, scratch)
	}
	fi, err := os.Lstat(res.ArchivePath)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return "", fmt.Errorf("backup: `openclaw backup create` reported success but wrote no archive at %s (openclaw#122916)", res.ArchivePath)
	}
	return res.ArchivePath, nil
}

// writeArchive writes the archive at path (new, 0600) and syncs it: the
// OpenClaw archive, the token, Caddy's storage, the config and env file,
// and last the manifest of all of them.
func writeArchive(path, innerPath string, o Options, created time.Time) (Manifest, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	m := Manifest{Format: Format, Created: created, OpenclawdVersion: o.OpenclawdVersion}
	m.Host, _ = os.Hostname()
	add := func(name, src string) error {
		file, err := addFile(tw, name, src, created)
		if err != nil {
			return fmt.Errorf("backup: adding %s: %w", src, err)
		}
		m.Files = append(m.Files, file)
		return nil
	}

	innerName := gatewayDir + filepath.Base(innerPath)
	if err := add(innerName, innerPath); err != nil {
		return m, err
	}
	in, err := scanFile(innerPath)
	if err != nil {
		return m, fmt.Errorf("backup: OpenClaw's archive: %w", err)
	}
	m.OpenclawVersion, m.NodeVersion = in.manifest.RuntimeVersion, in.manifest.NodeVersion
	m.GatewayStateDir, m.Gateway = in.manifest.Paths.StateDir, in.content

	if _, err := os.Lstat(o.Layout.TokenFile()); err == nil {
		if err := add(secretsDir+"gateway-token", o.Layout.TokenFile()); err != nil {
			return m, err
		}
	}
	// Caddy's storage: certificates, keys, the ACME account, the local CA.
	// Its locks are per process.
	err = filepath.WalkDir(o.Layout.Caddy(), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // no storage yet, or Caddy removed it since it was listed
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.Layout.Caddy(), p)
		if d.IsDir() && rel == "locks" {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		// A file Caddy removed since it was listed is skipped, not the
		// rest of the walk (addFile writes nothing before opening it).
		if err := add(caddyDir+filepath.ToSlash(rel), p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if o.ConfigPath != "" {
		if err := add(configName, o.ConfigPath); err != nil {
			return m, err
		}
	}
	if o.EnvFile != "" {
		if err := add(envName, o.EnvFile); err != nil {
			return m, err
		}
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(body)), ModTime: created, Typeflag: tar.TypeReg}); err != nil {
		return m, err
	}
	if _, err := tw.Write(body); err != nil {
		return m, err
	}
	if err := tw.Close(); err != nil {
		return m, fmt.Errorf("backup: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return m, fmt.Errorf("backup: syncing %s: %w", path, err)
	}
	return m, f.Close()
}

// addFile copies src (a regular file, not followed if a link) in as name.
func addFile(tw *tar.Writer, name, src string, created time.Time) (File, error) {
	f, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	if !fi.Mode().IsRegular() {
		return File{}, errors.New("not a regular file")
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return File{}, err
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, sum), io.LimitReader(f, fi.Size()))
	if err != nil {
		return File{}, err
	}
	if n != fi.Size() {
		return File{}, fmt.Errorf("it shrank while being read (%d of %d bytes)", n, fi.Size())
	}
	return File{Name: name, Size: n, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

func scanFile(path string) (inner, error) {
	f, err := os.Open(path)
	if err != nil {
		return inner{}, err
	}
	defer f.Close()
	return scanInner(f)
}

// LiveContent is the gateway's state as an archive of it must hold it:
// openclaw.json and every SQLite database, except under the directories
// OpenClaw regenerates (tmp, cache, plugin dependency trees).
func LiveContent(l statedir.Layout) (Content, error) {
	var c Content
	root := l.Gateway()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == "tmp", rel == "cache", rel == "plugin-skills", d.Name() == "node_modules",
				strings.HasPrefix(rel, "sandbox/skills-workspaces"), strings.HasSuffix(rel, ".update-captures"):
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		switch {
		case rel == "openclaw.json":
			c.Config = true
		case strings.HasSuffix(rel, ".sqlite") && !strings.Contains("/"+rel, "/tmp/") && !strings.Contains("/"+rel, "/.tmp/"):
			c.Databases = append(c.Databases, rel)
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("reading the gateway's state in %s: %w", root, err)
	}
	slices.Sort(c.Databases)
	return c, nil
}

// checkSpace refuses to start without room for two copies of the state
// (OpenClaw's archive, then ours around it) and a margin.
func checkSpace(dir string, l statedir.Layout) error {
	need := int64(64 << 20)
	for _, d := range []string{l.Gateway(), l.Caddy()} {
		n, err := dirSize(d)
		if err != nil {
			return fmt.Errorf("backup: measuring %s: %w", d, err)
		}
		need += 2 * n
	}
	free, err := fsutil.FreeBytes(dir)
	if err != nil {
		return fmt.Errorf("backup: checking free space in %s: %w", dir, err)
	}
	if free < need {
		return fmt.Errorf("backup: not enough free space in %s: %d MB free, a backup needs about %d MB; free some (`openclawd backup list`, old archives, logs) or keep fewer (backup.keep)", dir, free>>20, need>>20)
	}
	return nil
}

func dirSize(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || p == filepath.Join(root, "cache") || p == filepath.Join(root, "tmp")) {
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}

// ErrBusy is a backup or restore in progress.
var ErrBusy = errors.New("backup: another backup or restore is running; wait for it (`openclawd status` shows it)")

// Lock takes the backups directory's lock, waiting up to wait for a
// backup or restore that holds it: one at a time, so no archive is made of
// a state being swapped, and a manual backup waits for a scheduled one.
func Lock(ctx context.Context, l statedir.Layout, wait time.Duration) (unlock func(), err error) {
	return lockFile(ctx, filepath.Join(l.Backups(), ".lock"), wait, ErrBusy)
}

// ErrRunning is an openclawd running on the state dir.
var ErrRunning = errors.New("openclawd runs on this state dir (or is starting): it does the swap itself; try again in a moment")

// LockState is held by a running openclawd for its whole life, and by an
// offline restore while it swaps: the two never touch the state at once.
func LockState(ctx context.Context, l statedir.Layout, wait time.Duration) (unlock func(), err error) {
	return lockFile(ctx, filepath.Join(l.Restore(), ".state.lock"), wait, ErrRunning)
}

func lockFile(ctx context.Context, path string, wait time.Duration, busy error) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	deadline := time.Now().Add(wait)
	for unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		if time.Now().After(deadline) || ctx.Err() != nil {
			f.Close()
			return nil, busy
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // poll: flock has no timeout
		}
	}
	return func() { f.Close() }, nil
}

// removePartials removes what an interrupted backup left (the lock is
// held, so nothing else writes there).
func removePartials(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".partial-") {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
