package fetch

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// link is a symlink already written: its path below the root, its target,
// and its name in the archive for messages.
type link struct{ name, target, raw string }

// kind names a refused entry type for the user.
func kind(t byte) string {
	switch t {
	case tar.TypeChar, tar.TypeBlock:
		return "a device"
	case tar.TypeFifo:
		return "a named pipe"
	}
	return fmt.Sprintf("of unsupported type %q", t)
}

// mkdirs creates dir and its parents, refusing to pass through a symlink.
// It asks the filesystem rather than comparing names, which would miss
// "Bin" vs "bin" on a case-insensitive macOS volume.
func (x *extractor) mkdirs(dir, raw string) error {
	if dir == "." || x.dirs[dir] {
		return nil
	}
	if err := x.mkdirs(path.Dir(dir), raw); err != nil {
		return err
	}
	err := x.root.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		var fi fs.FileInfo
		if fi, err = x.root.Lstat(dir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%q is below the symlink %q", raw, path.Join(x.top, dir))
		} else if err == nil && !fi.IsDir() {
			return fmt.Errorf("%q is below %q, which is not a directory", raw, path.Join(x.top, dir))
		}
	}
	if err == nil {
		err = x.root.Chmod(dir, 0o755) // Mkdir's mode is filtered by the umask
	}
	if err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	x.dirs[dir] = true
	return nil
}

func (x *extractor) writeFile(name string, h *tar.Header, r io.Reader) error {
	// At most 0755: setuid, setgid, sticky and group or other write are
	// dropped, so no one but the owner can change the runtime's code. Owner
	// read is kept so Install can open the file to fsync it.
	perm := fs.FileMode(h.Mode&0o755) | 0o400
	// O_EXCL: a duplicate entry must not overwrite, nor follow a symlink.
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%q appears twice in the archive: %w", h.Name, err)
	} else if err != nil {
		return fmt.Errorf("%q: %w", h.Name, err)
	}
	if err := f.Chmod(perm); err != nil { // the umask filtered OpenFile's mode
		f.Close()
		return fmt.Errorf("%q: %w", h.Name, err)
	}
	// The LimitReader counts real bytes, should a header under-declare.
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, io.LimitReader(r, x.lim.MaxBytes-x.written+1), x.buf)
	x.written += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q: %w", h.Name, err)
	}
	if x.written > x.lim.MaxBytes {
		return fmt.Errorf("%q takes the archive past %d bytes (Limits.MaxBytes)", h.Name, x.lim.MaxBytes)
	}
	return nil
}

func (x *extractor) symlink(name string, h *tar.Header) error {
	t := h.Linkname
	if t == "" || strings.HasPrefix(t, "/") || filepath.IsAbs(t) || filepath.VolumeName(t) != "" {
		return fmt.Errorf("symlink %q -> %q leaves the archive root", h.Name, t)
	}
	if j := path.Join(path.Dir(name), t); j == ".." || strings.HasPrefix(j, "../") {
		return fmt.Errorf("symlink %q -> %q leaves the archive root", h.Name, t)
	}
	if err := x.root.Symlink(t, name); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%q appears twice in the archive: %w", h.Name, err)
	} else if err != nil {
		return fmt.Errorf("%q: %w", h.Name, err)
	}
	x.links = append(x.links, link{name, t, h.Name})
	return nil
}

// checkLinks catches what the lexical check in symlink cannot: with
// "a" -> "." a link "b" -> "a/.." looks local but resolves to the parent of
// the root. Climbing ("..") after passing through a symlink is refused;
// everything else stays inside by induction over the links.
func (x *extractor) checkLinks() error {
	for _, l := range x.links {
		cur, via := path.Dir(l.name), ""
		for _, p := range strings.Split(l.target, "/") {
			switch {
			case p == "" || p == ".":
			case p == ".." && via != "":
				return fmt.Errorf("symlink %q -> %q climbs out of the symlink %q", l.raw, l.target, path.Join(x.top, via))
			case p == "..":
				cur = path.Dir(cur)
			default:
				cur = path.Join(cur, p)
				if fi, err := x.root.Lstat(cur); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
					via = cur
				}
			}
		}
	}
	return nil
}
