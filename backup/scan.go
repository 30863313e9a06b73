package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// upstream is the part of OpenClaw's manifest.json (schema 1) read here.
type upstream struct {
	SchemaVersion  int    `json:"schemaVersion"`
	RuntimeVersion string `json:"runtimeVersion"`
	NodeVersion    string `json:"nodeVersion"`
	Paths          struct {
		StateDir string `json:"stateDir"`
	} `json:"paths"`
	Assets []struct {
		Kind        string `json:"kind"`
		SourcePath  string `json:"sourcePath"`
		ArchivePath string `json:"archivePath"`
	} `json:"assets"`
}

// inner is what a scan of OpenClaw's archive found.
type inner struct {
	root     string // the archive's single top directory
	manifest upstream
	content  Content
}

// payloadPrefix is where the gateway's state dir sits in the archive.
func (in inner) payloadPrefix() string {
	return in.root + "/payload/posix" + path.Clean("/"+in.manifest.Paths.StateDir) + "/"
}

// scanInner reads OpenClaw's .tar.gz to its end and checks its content:
// one root with a schema-1 manifest, safe names, openclaw.json, and every
// SQLite file whole (header, page size, length). OpenClaw's own verify has
// run SQLite's integrity check on it at creation; this catches what
// happened to the bytes since.
func scanInner(r io.Reader) (inner, error) {
	var in inner
	zr, err := gzip.NewReader(r)
	if err != nil {
		return in, fmt.Errorf("OpenClaw's archive is not gzip data: %w", err)
	}
	type entry struct {
		typ  byte
		size int64
		bad  error // a damaged SQLite file
	}
	entries := map[string]entry{}
	var manifest []byte
	links := map[string]bool{} // restore writes nothing beneath a link: refuse it here too
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return in, fmt.Errorf("reading OpenClaw's archive: %w", err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if err := safeName(name); err != nil {
			return in, fmt.Errorf("OpenClaw's archive: %w", err)
		}
		top, _, _ := strings.Cut(name, "/")
		if in.root == "" {
			in.root = top
		} else if top != in.root {
			return in, fmt.Errorf("OpenClaw's archive has two roots, %q and %q", in.root, top)
		}
		for p := path.Dir(name); p != "." && p != "/"; p = path.Dir(p) {
			if links[p] {
				return in, fmt.Errorf("OpenClaw's archive has %s beneath the symbolic link %s", name, p)
			}
		}
		e := entry{typ: h.Typeflag, size: h.Size}
		switch h.Typeflag {
		case tar.TypeSymlink:
			links[name] = true
		case tar.TypeDir:
		case tar.TypeReg:
			switch {
			case name == in.root+"/manifest.json":
				if manifest, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
					return in, fmt.Errorf("reading OpenClaw's manifest: %w", err)
				}
			case strings.HasSuffix(name, ".sqlite"):
				e.bad = checkSQLite(tr, h.Size)
			}
		default:
			return in, fmt.Errorf("OpenClaw's archive holds %s, of a type a backup never has (%c)", name, h.Typeflag)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return in, fmt.Errorf("reading OpenClaw's archive at %s: %w", name, err)
		}
		entries[name] = e
	}
	// gzip's checksum is verified only at the end of its stream.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return in, fmt.Errorf("reading OpenClaw's archive: %w", err)
	}
	if manifest == nil {
		return in, errors.New("OpenClaw's archive has no manifest.json")
	}
	if err := json.Unmarshal(manifest, &in.manifest); err != nil {
		return in, fmt.Errorf("OpenClaw's manifest.json: %w", err)
	}
	if in.manifest.SchemaVersion != 1 {
		return in, fmt.Errorf("OpenClaw's manifest has schema version %d; this openclawd reads 1: upgrade openclawd", in.manifest.SchemaVersion)
	}
	if in.manifest.Paths.StateDir == "" {
		return in, errors.New("OpenClaw's manifest names no state dir")
	}
	prefix := in.payloadPrefix()
	for name, e := range entries {
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok || e.typ != tar.TypeReg {
			continue
		}
		in.content.Files++
		in.content.Bytes += e.size
		switch {
		case rel == "openclaw.json":
			in.content.Config = e.size > 0
		case strings.HasSuffix(rel, ".sqlite"):
			if e.bad != nil {
				return in, fmt.Errorf("the database %s in the archive is damaged: %w", rel, e.bad)
			}
			in.content.Databases = append(in.content.Databases, rel)
		}
	}
	slices.Sort(in.content.Databases)
	if !in.content.Config {
		return in, fmt.Errorf("OpenClaw's archive holds no openclaw.json under %s: it is not a backup of this gateway's state", in.manifest.Paths.StateDir)
	}
	return in, nil
}

// checkSQLite reads a SQLite file's header: the magic string, a page size
// that is a power of two from 512 to 65536, a length that is a whole
// number of pages, and, where the header vouches for it, the page count.
func checkSQLite(r io.Reader, size int64) error {
	var hdr [100]byte
	if size < int64(len(hdr)) {
		return fmt.Errorf("%d bytes is shorter than a SQLite header", size)
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	if !bytes.Equal(hdr[:16], []byte("SQLite format 3\x00")) {
		return errors.New("not a SQLite database")
	}
	page := int64(binary.BigEndian.Uint16(hdr[16:18]))
	if page == 1 {
		page = 65536
	}
	if page < 512 || page&(page-1) != 0 {
		return fmt.Errorf("page size %d is invalid", page)
	}
	if size%page != 0 {
		return fmt.Errorf("%d bytes is not a whole number of %d-byte pages (truncated?)", size, page)
	}
	// The in-header page count is valid when version-valid-for equals
	// the change counter.
	if binary.BigEndian.Uint32(hdr[92:96]) == binary.BigEndian.Uint32(hdr[24:28]) {
		if n := int64(binary.BigEndian.Uint32(hdr[28:32])); n != 0 && n*page != size {
			return fmt.Errorf("the header says %d pages, the file has %d", n, size/page)
		}
	}
	return nil
}

// safeName refuses absolute names, "..", and anything not in clean form.
func safeName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || name == ".." ||
		strings.HasPrefix(name, "../") || strings.Contains(name, "/../") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("unsafe member name %q", name)
	}
	return nil
}
