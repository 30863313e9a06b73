package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/openclawd/openclawd/backup/target"
)

// Latest is the newest archive at t.
func Latest(ctx context.Context, t target.Target) (string, error) {
	objs, err := t.List(ctx)
	if err != nil {
		return "", err
	}
	var names []Archive
	for _, o := range objs {
		if at, ok := ArchiveTime(o.Name); ok {
			names = append(names, Archive{Name: o.Name, Created: at, Size: o.Size})
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("backup target %s (%s) holds no archive", t.Name(), t.Describe())
	}
	SortNewest(names)
	return names[0].Name, nil
}

// Fetch downloads the archive name from t into dir, decrypting an .age
// copy with ids, and returns its path. It writes a partial file first and
// renames it only once whole: an interrupted download leaves nothing that
// could be mistaken for an archive. The copy is always read in full (a
// verify of it must not stop at a local archive of the same name); one
// here already is kept if it has the same bytes, and a different one of
// the same name is an error.
func Fetch(ctx context.Context, t target.Target, name string, ids []age.Identity, dir string) (string, error) {
	if _, ok := ArchiveTime(name); !ok || strings.ContainsAny(name, "/\\") {
		return "", fmt.Errorf("%q is not an archive name (openclawd-backup-<time>.tar[.age]); `openclawd backup list --from %s` lists them", name, t.Name())
	}
	final := filepath.Join(dir, strings.TrimSuffix(name, ".age"))
	rc, err := t.Open(ctx, name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var src io.Reader = rc
	if strings.HasSuffix(name, ".age") {
		if src, err = target.Decrypt(rc, ids); err != nil {
			return "", err
		}
	}
	tmp, err := os.CreateTemp(dir, ".fetch-") // not .partial-*: a backup's cleanup removes those
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("downloading %s from %s: %w", name, t.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// Only a whole archive gets an archive's name (and counts for
	// retention and latest).
	if _, err := Verify(tmp.Name(), VerifyOptions{}); err != nil {
		return "", fmt.Errorf("the copy of %s at %s: %w", name, t.Name(), err)
	}
	if _, err := os.Lstat(final); err == nil {
		if same, err := sameBytes(tmp.Name(), final); err != nil || !same {
			return "", fmt.Errorf("%s here differs from the copy at %s (another host's archive of the same second?): move it away and try again", final, t.Name())
		}
		return final, nil
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	syncDir(dir)
	return final, nil
}

func sameBytes(a, b string) (bool, error) {
	ha, err := fileSum(a)
	if err != nil {
		return false, err
	}
	hb, err := fileSum(b)
	return ha == hb, err
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ExtractInner copies OpenClaw's own archive out of an openclawd archive
// into dir, for OpenClaw's `backup verify` and `backup restore`.
func ExtractInner(archive, dir string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s holds no OpenClaw archive", archive)
		}
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(h.Name, gatewayDir) && strings.HasSuffix(h.Name, ".tar.gz") && safeName(h.Name) == nil {
			dst := filepath.Join(dir, filepath.Base(h.Name))
			return dst, writeFile(dst, tr, 0o600)
		}
	}
}
