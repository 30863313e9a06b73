package openclaw

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Legacy is state left under the gateway's old name (clawdbot). The
// gateway would read it silently in some cases and write the new name in
// others: the exact failure that made backups miss a day of data. openclawd
// never reads it by itself; it reports it and offers migrate-legacy.
type Legacy struct {
	Path string // the legacy directory or file
	Kind string // "dir" or "config"
}

// MigratedMarker, inside the state dir, records a finished migration.
const MigratedMarker = ".openclawd-migrated-from"

// FindLegacy looks for clawdbot-era state in the homes the gateway could
// use and in its state dir. A migrated source is not reported again.
func FindLegacy(stateDir string, homes ...string) []Legacy {
	migrated, _ := os.ReadFile(filepath.Join(stateDir, MigratedMarker))
	var out []Legacy
	add := func(p, kind string) {
		if string(migrated) == filepath.Clean(p) || string(migrated) == filepath.Dir(p) {
			return
		}
		if _, err := os.Lstat(p); err == nil {
			out = append(out, Legacy{Path: p, Kind: kind})
		}
	}
	for _, h := range homes {
		if h == "" {
			continue
		}
		add(filepath.Join(h, ".clawdbot"), "dir")
		add(filepath.Join(h, ".openclaw", "clawdbot.json"), "config")
	}
	add(filepath.Join(stateDir, "clawdbot.json"), "config")
	return out
}

// Migrate copies a legacy directory into stateDir: into a temporary
// sibling first, renaming clawdbot.json to openclaw.json, verifying every
// file against the source by SHA-256, then swapping it in. An existing
// stateDir is kept beside it as <stateDir>.before-migrate-<time>. The
// source is never changed.
func Migrate(src, stateDir string) (backup string, err error) {
	if src, err = filepath.Abs(src); err != nil {
		return "", err
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return "", err
	}
	if src == stateDir || strings.HasPrefix(stateDir+string(filepath.Separator), src+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is the gateway's state dir (or holds it): nothing to copy; merge clawdbot.json into openclaw.json by hand", src)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return "", fmt.Errorf("reading legacy state: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is a file; migrate the directory that holds it", src)
	}
	tmp := stateDir + ".migrating"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // harmless after the rename
	if err := copyTree(src, tmp); err != nil {
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	old, cur := filepath.Join(tmp, "clawdbot.json"), filepath.Join(tmp, "openclaw.json")
	if _, err := os.Stat(cur); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(old, cur); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	if err := verifyTree(src, tmp); err != nil {
		return "", fmt.Errorf("verifying the copy: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, MigratedMarker), []byte(src), 0o600); err != nil {
		return "", err
	}
	if _, err := os.Stat(stateDir); err == nil {
		backup = fmt.Sprintf("%s.before-migrate-%s", stateDir, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(stateDir, backup); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, stateDir); err != nil {
		if backup != "" {
			_ = os.Rename(backup, stateDir)
		}
		return "", err
	}
	if d, err := os.Open(filepath.Dir(stateDir)); err == nil { // make both renames durable
		_ = d.Sync()
		d.Close()
	}
	return backup, nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(p, target, info.Mode().Perm()&0o700)
		}
		return nil // sockets, fifos: runtime artefacts, not state
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// verifyTree checks that every regular file of src has an identical copy
// in dst (clawdbot.json under its new name).
func verifyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if rel == "clawdbot.json" {
			if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
				target = filepath.Join(dst, "openclaw.json")
			}
		}
		a, err := fileHash(p)
		if err != nil {
			return err
		}
		b, err := fileHash(target)
		if err != nil {
			return err
		}
		if a != b {
			return fmt.Errorf("%s differs from its copy %s", p, target)
		}
		return nil
	})
}

func fileHash(p string) ([32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), nil
}
