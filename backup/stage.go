package backup

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/openclawd/openclawd/statedir"
)

// Items are the state dir's entries a restore replaces, in swap order.
var Items = []string{"openclaw", "secrets", "caddy"}

// Staged is a verified archive extracted under <state_dir>/restore,
// ready to swap in.
type Staged struct {
	Dir      string // restore/staged-<id>: openclaw/, secrets/, caddy/, config/
	ID       string
	Manifest Manifest
	Skipped  []string // OpenClaw assets outside its state dir, not restored
}

// Stage verifies the archive at archive, then extracts it into a new
// directory under l.Restore(): the gateway's state dir (remapped from
// wherever it was backed up), the token, Caddy's storage and the config
// files. Files are 0600 and directories 0700, the service user's (this
// process's); symbolic links from OpenClaw's archive are recreated, and
// nothing is written beneath one. The result is synced to disk.
func Stage(archive string, l statedir.Layout, o VerifyOptions) (Staged, error) {
	m, err := Verify(archive, o)
	if err != nil {
		return Staged{}, err
	}
	id := m.Created.UTC().Format("20060102T150405Z")
	dir, err := os.MkdirTemp(l.Restore(), "staged-"+id+"-")
	if err != nil {
		return Staged{}, fmt.Errorf("restore: %w", err)
	}
	s := Staged{Dir: dir, ID: filepath.Base(dir)[len("staged-"):], Manifest: m}
	if err := s.extract(archive); err != nil {
		_ = os.RemoveAll(dir)
		return Staged{}, fmt.Errorf("restore: extracting %s: %w", archive, err)
	}
	return s, nil
}

func (s *Staged) extract(archive string) error {
	for _, d := range append(Items, "config") {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o700); err != nil {
			return err
		}
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		var dst string
		if h.Name != ManifestName && knownMember(h.Name) != nil {
			return knownMember(h.Name) // Verify refused it already; never extract it
		}
		switch {
		case h.Name == ManifestName:
			continue
		case strings.HasPrefix(h.Name, gatewayDir):
			if err := s.extractGateway(tr); err != nil {
				return fmt.Errorf("OpenClaw's archive: %w", err)
			}
			continue
		case strings.HasPrefix(h.Name, secretsDir), strings.HasPrefix(h.Name, caddyDir), strings.HasPrefix(h.Name, configDir):
			dst = filepath.Join(s.Dir, filepath.FromSlash(h.Name))
		default:
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := writeFile(dst, tr, 0o600); err != nil {
			return err
		}
	}
	// The whole tree is on disk before any of it is swapped in.
	if err := syncTree(s.Dir); err != nil {
		return fmt.Errorf("syncing %s: %w", s.Dir, err)
	}
	return nil
}

// extractGateway puts the part of OpenClaw's archive that lies in its
// state dir at staged/openclaw, whatever that dir's path was (Verify has
// checked the manifest names it). Other assets are listed in Skipped.
func (s *Staged) extractGateway(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	base := filepath.Join(s.Dir, "openclaw")
	state := path.Clean("/" + s.Manifest.GatewayStateDir)
	links := map[string]bool{} // symlinks made: nothing goes beneath one
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(h.Name, "/")
		_, rest, _ := strings.Cut(name, "/")
		abs, ok := strings.CutPrefix(rest, "payload/posix")
		if !ok {
			continue // manifest.json
		}
		rel, ok := strings.CutPrefix(abs, state+"/")
		if !ok {
			if abs != state && h.Typeflag != tar.TypeDir {
				s.Skipped = append(s.Skipped, abs)
			}
			continue
		}
		if err := safeName(rel); err != nil {
			return err
		}
		for p := path.Dir(rel); p != "."; p = path.Dir(p) {
			if links[p] {
				return fmt.Errorf("%s lies beneath the symbolic link %s", rel, p)
			}
		}
		dst := filepath.Join(base, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return err
			}
			if err := writeFile(dst, tr, h.FileInfo().Mode().Perm()&0o700|0o600); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
			links[rel] = true
		}
	}
}

// writeFile creates dst (which must not exist) with r's bytes.
func writeFile(dst string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
