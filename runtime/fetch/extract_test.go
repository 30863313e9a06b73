package fetch

import (
	"archive/tar"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// nodeLike mimics the parts of Node's tarball that matter: a setuid-marked
// executable, nested files and bin/npm as a relative symlink.
var nodeLike = []entry{
	{name: "", typ: tar.TypeDir, mode: 0o755},
	{name: "bin/", typ: tar.TypeDir, mode: 0o755},
	{name: "bin/node", body: "\x7fELF", mode: 0o6755},
	{name: "lib/node_modules/npm/bin/npm-cli.js", body: "#!/usr/bin/env node\n", mode: 0o755},
	{name: "bin/npm", typ: tar.TypeSymlink, link: "../lib/node_modules/npm/bin/npm-cli.js"},
	{name: "include/node/node.h", body: "#pragma once\n"},
	{name: "share/", typ: tar.TypeDir, mode: 0o1777},
}

func checkNodeLike(t *testing.T, dst string) {
	fi, err := os.Stat(filepath.Join(dst, "bin/node"))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode(); m&(fs.ModeSetuid|fs.ModeSetgid) != 0 || m&0o100 == 0 {
		t.Errorf("bin/node mode = %v, want exec bits and no setuid/setgid", m)
	}
	if target, err := os.Readlink(filepath.Join(dst, "bin/npm")); err != nil || target != "../lib/node_modules/npm/bin/npm-cli.js" {
		t.Errorf("bin/npm link = %q, %v", target, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "bin/npm")); err != nil || string(b) != "#!/usr/bin/env node\n" {
		t.Errorf("reading through bin/npm = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "share")); err != nil || fi.Mode()&fs.ModeSticky != 0 {
		t.Errorf("share: %v, %v; want a dir without the sticky bit", fi.Mode(), err)
	}
}

func TestExtract(t *testing.T) {
	tests := []extractCase{ // cut truncates the compressed file halfway; wantErr "" means success
		{name: "good tar.gz keeps symlink, strips setuid", format: "gz", entries: nodeLike},
		{name: "good tar.xz keeps symlink, strips setuid", format: "xz", entries: nodeLike},
		{name: "dot-slash names", format: "gz", entries: []entry{
			{name: "!./", typ: tar.TypeDir}, {name: "!./" + top + "/a", body: "x"}}},
		{name: "truncated tar.gz", format: "gz", entries: nodeLike, cut: true, wantErr: "unexpected EOF"},
		{name: "truncated tar.xz", format: "xz", entries: nodeLike, cut: true, wantErr: "unexpected EOF"},
		{name: "dot-dot entry", format: "xz", entries: []entry{{name: "../../etc/x", body: "x"}},
			wantErr: `extracting node.tar: "` + top + `/../../etc/x" leaves the archive root`},
		{name: "dot-dot inside the tree", format: "gz", entries: []entry{{name: "a/../b", body: "x"}},
			wantErr: "leaves the archive root"},
		{name: "absolute path", format: "gz", entries: []entry{{name: "!/etc/passwd", body: "x"}},
			wantErr: `"/etc/passwd" is an absolute path`},
		{name: "second top-level dir", format: "gz", entries: []entry{{name: "a", body: "x"}, {name: "!other/b", body: "x"}},
			wantErr: "outside the top-level directory"},
		{name: "symlink to absolute path", format: "gz", entries: []entry{{name: "etc", typ: tar.TypeSymlink, link: "/etc"}},
			wantErr: `symlink "` + top + `/etc" -> "/etc" leaves the archive root`},
		{name: "symlink relative escape", format: "gz", entries: []entry{{name: "bin/up", typ: tar.TypeSymlink, link: "../../x"}},
			wantErr: "leaves the archive root"},
		{name: "symlink climbing out of a symlink", format: "gz", entries: []entry{
			{name: "self", typ: tar.TypeSymlink, link: "."}, {name: "up", typ: tar.TypeSymlink, link: "self/.."}},
			wantErr: "climbs out of the symlink"},
		{name: "symlink climbing out of a later symlink", format: "gz", entries: []entry{
			{name: "up", typ: tar.TypeSymlink, link: "self/.."}, {name: "self", typ: tar.TypeSymlink, link: "."}},
			wantErr: "climbs out of the symlink"},
		{name: "entry below a symlink", format: "gz", entries: []entry{
			{name: "real/", typ: tar.TypeDir}, {name: "lib", typ: tar.TypeSymlink, link: "real"}, {name: "lib/x", body: "x"}},
			wantErr: `"` + top + `/lib/x" is below the symlink "` + top + `/lib"`},
		{name: "file replacing a symlink", format: "gz", entries: []entry{
			{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "a", body: "x"}},
			wantErr: `"` + top + `/a" appears twice`},
		{name: "symlink replacing a file", format: "gz", entries: []entry{
			{name: "a", body: "x"}, {name: "a", typ: tar.TypeSymlink, link: "b"}},
			wantErr: `"` + top + `/a" appears twice`},
		{name: "hard link", format: "gz", entries: []entry{{name: "a", body: "x"}, {name: "b", typ: tar.TypeLink, link: top + "/a"}},
			wantErr: "hard links are not supported"},
		{name: "character device", format: "gz", entries: []entry{{name: "tty", typ: tar.TypeChar}},
			wantErr: "is a device"},
		{name: "2 GiB bomb refused from its header", format: "xz", entries: []entry{{name: "big", body: "AAAA", size: 2 << 30}},
			wantErr: "Limits.MaxBytes"},
		{name: "too many files", format: "gz", lim: Limits{MaxFiles: 3}, entries: []entry{
			{name: "a", body: "1"}, {name: "b", body: "2"}, {name: "c", body: "3"}, {name: "d", body: "4"}},
			wantErr: `"` + top + `/d": more than 3 entries (Limits.MaxFiles)`},
		{name: "bytes over a small limit", format: "gz", lim: Limits{MaxBytes: 5}, entries: []entry{{name: "a", body: "123456"}},
			wantErr: "Limits.MaxBytes"},
		{name: "empty archive", format: "gz", wantErr: "the archive is empty"},
	}
	// xz archives go through the system's xz when there is one, else the
	// pure-Go decoder: run the table both ways.
	for _, decoder := range []string{"system xz if any", "pure-Go xz"} {
		t.Run(decoder, func(t *testing.T) {
			if decoder == "pure-Go xz" {
				old := lookXZ
				lookXZ = func(string) (string, error) { return "", exec.ErrNotFound }
				t.Cleanup(func() { lookXZ = old })
			}
			runExtractTable(t, tests)
		})
	}
}

type extractCase = struct {
	name    string
	format  string
	entries []entry
	lim     Limits
	cut     bool
	wantErr string
}

func runExtractTable(t *testing.T, tests []extractCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := makeArchive(t, tt.format, tt.entries)
			if tt.cut {
				data = data[:len(data)/2]
			}
			archive := openFile(t, writeFile(t, dir, "node.tar", data)) // no extension: detection is by magic
			dst := filepath.Join(dir, "v24")
			err := Extract(archive, dst, tt.lim)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Extract: %v", err)
				}
				if slices.Equal(tt.entries, nodeLike) {
					checkNodeLike(t, dst)
				}
				if got := listDir(t, dir); !slices.Equal(got, []string{"node.tar", "v24"}) {
					t.Errorf("dir holds %q, want the archive and v24", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Extract error = %v, want it to contain %q", err, tt.wantErr)
			}
			t.Log(err)
			if got := listDir(t, dir); !slices.Equal(got, []string{"node.tar"}) {
				t.Errorf("after failure dir holds %q, want only the archive", got)
			}
		})
	}
}

func TestExtractNotAnArchive(t *testing.T) {
	dir := t.TempDir()
	archive := openFile(t, writeFile(t, dir, "node.tar.xz", []byte("<html>404</html>")))
	err := Extract(archive, filepath.Join(dir, "v24"), Limits{})
	if err == nil || !strings.Contains(err.Error(), "unknown magic bytes") {
		t.Fatalf("Extract error = %v, want unknown magic bytes", err)
	}
}

func TestExtractRefusesExistingDst(t *testing.T) {
	dir := t.TempDir()
	archive := openFile(t, writeFile(t, dir, "node.tar.gz", makeArchive(t, "gz", nodeLike)))
	dst := filepath.Join(dir, "v24")
	writeFile(t, dir, "v24", []byte("keep"))
	if err := Extract(archive, dst, Limits{}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("Extract error = %v, want exists", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "keep" {
		t.Errorf("dst changed to %q", b)
	}
}

// TestDownloadThenExtract is the caller's path: fetch a pinned .tar.xz over
// HTTP, unpack it, drop the archive.
func TestDownloadThenExtract(t *testing.T) {
	data := makeArchive(t, "xz", nodeLike)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	versions := t.TempDir()
	archive, err := Download(context.Background(), srv.URL+"/v24.21.0/"+top+".tar.xz", sum(data), versions, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer archive.Close()
	if err := Extract(archive, filepath.Join(versions, "v24.21.0"), Limits{}); err != nil {
		t.Fatal(err)
	}
	checkNodeLike(t, filepath.Join(versions, "v24.21.0"))
}

// TestExtractMasksModes: whatever modes the archive claims, nobody but the
// owner may write what it unpacks, and nothing is setuid, setgid or sticky.
func TestExtractMasksModes(t *testing.T) {
	tests := []struct {
		name string
		e    entry
		want fs.FileMode
	}{
		{"0777 file", entry{name: "f", body: "x", mode: 0o777}, 0o755},
		{"0666 file", entry{name: "f", body: "x", mode: 0o666}, 0o644},
		{"0622 file", entry{name: "f", body: "x", mode: 0o622}, 0o600},
		{"setuid group-writable file", entry{name: "f", body: "x", mode: 0o4775}, 0o755},
		{"write-only file", entry{name: "f", body: "x", mode: 0o200}, 0o600},
		{"0777 dir", entry{name: "f/", typ: tar.TypeDir, mode: 0o777}, 0o755 | fs.ModeDir},
		{"sticky 1777 dir", entry{name: "f/", typ: tar.TypeDir, mode: 0o1777}, 0o755 | fs.ModeDir},
		{"0700 dir", entry{name: "f/", typ: tar.TypeDir, mode: 0o700}, 0o755 | fs.ModeDir},
	}
	for _, format := range []string{"gz", "xz"} {
		for _, tt := range tests {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				data := makeArchive(t, format, []entry{{name: "", typ: tar.TypeDir, mode: 0o777}, tt.e})
				dst := filepath.Join(dir, "v24")
				if err := Extract(openFile(t, writeFile(t, dir, "node.tar", data)), dst, Limits{}); err != nil {
					t.Fatal(err)
				}
				for p, want := range map[string]fs.FileMode{"f": tt.want, "": 0o755 | fs.ModeDir} {
					fi, err := os.Lstat(filepath.Join(dst, p))
					if err != nil || fi.Mode() != want {
						t.Errorf("%q: %v, %v; want %v", p, fi.Mode(), err, want)
					}
				}
			})
		}
	}
}
