package fetch

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
)

// Limits bounds what Extract unpacks; zero fields take the defaults.
type Limits struct {
	MaxFiles int   // entries of any type; default 20000
	MaxBytes int64 // sum of regular file sizes; default 1 GiB (Node: ~190 MB)
}

const maxTrailer = 1 << 20 // tar pads to 10 KiB records; more is not padding

var (
	gzipMagic = []byte{0x1f, 0x8b}
	xzMagic   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// Extract unpacks the .tar.xz or .tar.gz (by magic bytes, not name) open
// as archive, from its start, into dst, dropping the archive's single
// top-level directory. It reads the descriptor Download verified, never a
// path. dst must not exist; extraction goes to a fresh private (0700)
// temporary sibling, is fsynced, made 0755 and renamed to dst (see
// Install). Regular files, dirs and symlinks only; it refuses absolute or
// ".." paths, symlinks that escape the root, entries below a symlink, hard
// links and devices. Modes are masked: directories are 0755, files keep at
// most 0755 (exec bits, but no group or other write, no setuid, setgid or
// sticky). Limits are enforced from tar headers before any data is
// written, and actual bytes are counted too.
func Extract(archive *os.File, dst string, lim Limits) error {
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = 20000
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 1 << 30
	}
	name := filepath.Base(archive.Name())
	err := install(dst, func(tmp string, d *os.File) error {
		if err := extractFile(archive, tmp, d, lim); err != nil {
			return err
		}
		return d.Chmod(0o755) // last: nobody else looks in while it fills
	})
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("extracting %s: %w (the archive is truncated or corrupt)", name, err)
	} else if err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	return nil
}

func extractFile(f *os.File, dir string, d *os.File, lim Limits) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(len(xzMagic))
	var zr io.Reader
	var err error
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err = gzip.NewReader(br)
	case bytes.HasPrefix(magic, xzMagic):
		if xzBin, lerr := lookXZ("xz"); lerr == nil {
			if _, err := f.Seek(0, io.SeekStart); err != nil { // Peek read ahead
				return err
			}
			return extractWithXZ(xzBin, f, dir, d, lim)
		}
		zr, err = xz.NewReader(br)
	default:
		return errors.New("not a .tar.gz or .tar.xz file (unknown magic bytes)")
	}
	if err != nil {
		return fmt.Errorf("decompressing: %w", err)
	}
	return extractStream(zr, dir, d, lim)
}

// lookXZ finds the system's xz; tests swap it to cover the pure-Go path.
var lookXZ = exec.LookPath

// extractWithXZ decompresses with the system's xz, which is several times
// faster than the pure-Go decoder (about 16 MB/s): unpacking Node is most
// of the install's own overhead. xz verifies the stream's checks; its exit
// status says whether the data was whole.
func extractWithXZ(xzBin string, archive *os.File, dir string, d *os.File, lim Limits) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // kills xz if extraction stops early
	cmd := exec.CommandContext(ctx, xzBin, "--decompress", "--stdout", "--threads=0")
	cmd.Stdin = archive // the verified descriptor itself, not its name
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running xz: %w", err)
	}
	xerr := extractStream(bufio.NewReaderSize(out, 1<<20), dir, d, lim)
	if xerr != nil {
		cancel()
	}
	werr := cmd.Wait()
	switch {
	case xerr != nil && werr != nil && strings.Contains(stderr.String(), "nexpected end"):
		return fmt.Errorf("%w: %s", io.ErrUnexpectedEOF, strings.TrimSpace(stderr.String()))
	case xerr != nil:
		return xerr
	case werr != nil:
		if strings.Contains(stderr.String(), "nexpected end") {
			return fmt.Errorf("%w: %s", io.ErrUnexpectedEOF, strings.TrimSpace(stderr.String()))
		}
		return fmt.Errorf("decompressing: xz: %v: %s", werr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// extractStream untars a decompressed stream into dir.
// d is dir already open: the root opened by name must be the same
// directory.
func extractStream(zr io.Reader, dir string, d *os.File, lim Limits) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if got, err := root.Stat("."); err != nil {
		return err
	} else if want, err := d.Stat(); err != nil || !os.SameFile(got, want) {
		return fmt.Errorf("%s was replaced before extraction started: refusing it (is another process writing the runtime dir?)", dir)
	}
	x := &extractor{root: root, lim: lim, dirs: map[string]bool{}, buf: make([]byte, 256<<10)}
	if err := x.untar(tar.NewReader(zr)); err != nil {
		return err
	}
	// Read to the end so gzip's CRC and xz's block checks are verified.
	if n, err := io.CopyN(io.Discard, zr, maxTrailer+1); err != nil && err != io.EOF {
		return fmt.Errorf("reading past the last entry: %w", err)
	} else if n > maxTrailer {
		return errors.New("more than 1 MiB of data after the last entry")
	}
	return x.checkLinks()
}

type extractor struct {
	root    *os.Root
	lim     Limits
	top     string          // the single top-level directory, dropped
	dirs    map[string]bool // created or checked to be real directories
	links   []link          // checked again once the whole tree exists
	files   int
	size    int64 // declared by headers
	written int64 // actually written
	buf     []byte
}

func (x *extractor) untar(tr *tar.Reader) error {
	next := "the first entry" // a bad header has no name of its own
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if x.top == "" {
				return errors.New("the archive is empty")
			}
			return nil
		} else if err != nil {
			return fmt.Errorf("reading %s: %w", next, err)
		}
		next = "the entry after " + strconv.Quote(h.Name)
		if h.Typeflag == tar.TypeXGlobalHeader { // pax metadata (git archive), not a file
			continue
		}
		// Limits come from the header, before a byte of data is read.
		if x.files++; x.files > x.lim.MaxFiles {
			return fmt.Errorf("%q: more than %d entries (Limits.MaxFiles)", h.Name, x.lim.MaxFiles)
		}
		if x.size += h.Size; x.size > x.lim.MaxBytes {
			return fmt.Errorf("%q (%d bytes) takes the archive past %d bytes (Limits.MaxBytes)", h.Name, h.Size, x.lim.MaxBytes)
		}
		name, err := x.clean(h.Name)
		if err != nil {
			return err
		}
		if name == "" { // the top-level directory itself
			if h.Typeflag != tar.TypeDir {
				return fmt.Errorf("%q is not inside a top-level directory", h.Name)
			}
			continue
		}
		if err := x.mkdirs(path.Dir(name), h.Name); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = x.mkdirs(name, h.Name)
		case tar.TypeReg:
			err = x.writeFile(name, h, tr)
		case tar.TypeSymlink:
			err = x.symlink(name, h)
		case tar.TypeLink:
			err = fmt.Errorf("%q is a hard link to %q; hard links are not supported", h.Name, h.Linkname)
		default:
			err = fmt.Errorf("%q is %s; only files, directories and symlinks are allowed", h.Name, kind(h.Typeflag))
		}
		if err != nil {
			return err
		}
	}
}

// clean checks raw and returns it relative to the top-level directory,
// slash-separated, "" for the top-level directory itself.
func (x *extractor) clean(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") || filepath.IsAbs(raw) || filepath.VolumeName(raw) != "" {
		return "", fmt.Errorf("%q is an absolute path", raw)
	}
	s := raw
	for strings.HasPrefix(s, "./") {
		s = s[2:]
	}
	if s == "" || s == "." { // "./" itself, as `tar -C dir .` writes it
		return "", nil
	}
	top, rest, _ := strings.Cut(s, "/")
	switch {
	case top == "" || top == "." || top == "..":
		return "", fmt.Errorf("%q leaves the archive root", raw)
	case x.top == "":
		x.top = top
	case top != x.top:
		return "", fmt.Errorf("%q is outside the top-level directory %q", raw, x.top)
	}
	var parts []string
	for _, p := range strings.Split(rest, "/") {
		switch p {
		case "", ".":
		case "..": // even "a/../b": it would dodge the below-a-symlink check
			return "", fmt.Errorf("%q leaves the archive root", raw)
		default:
			parts = append(parts, p)
		}
	}
	name := strings.Join(parts, "/")
	if name != "" && !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", fmt.Errorf("%q is not a local path", raw)
	}
	return name, nil
}
