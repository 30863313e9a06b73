package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// useAnother is what a DamagedError tells the user to do.
const useAnother = "use another archive (`openclawd backup list`)"

// wantDamaged fails t unless err is a DamagedError naming path and saying
// every one of want.
func wantDamaged(t *testing.T, err error, path string, want ...string) {
	t.Helper()
	var de *DamagedError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T), want a *DamagedError", err, err)
	}
	if de.Path != path {
		t.Errorf("DamagedError.Path = %s, want %s", de.Path, path)
	}
	msg := err.Error()
	for _, w := range append(want, useAnother, "cannot be restored") {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q\ndoes not say %q", msg, w)
		}
	}
}

func TestVerifyTruncated(t *testing.T) {
	fx := newFixture(t, "a")
	res := fx.create(t)
	full, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	sp := spans(t, res.Path)
	in, man, tok := sp[innerName(t, res.Manifest)], sp[ManifestName], sp["secrets/gateway-token"]
	tests := []struct {
		name string
		at   int64
		want string
	}{
		{"empty", 0, "it has no manifest"},
		{"inside the first header", 100, "truncated"},
		{"inside OpenClaw's archive", in.data + in.sz/2, "truncated"},
		{"at the end of OpenClaw's archive's data", in.data + in.sz, endOf(in)},
		{"inside a header", tok.header + 300, "truncated"},
		{"inside a member", tok.data + 3, "truncated"},
		{"right before the manifest", man.header, "it has no manifest: not an openclawd backup, or truncated"},
		{"inside the manifest's header", man.header + 511, "truncated"},
		{"inside the manifest", man.data + man.sz/2, "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "cut.tar")
			write(t, p, full[:tc.at])
			_, err := Verify(p, VerifyOptions{})
			wantDamaged(t, err, p, tc.want)
		})
	}
	// The manifest's padding and the end-of-archive blocks carry nothing:
	// without them, every member is still there and checked.
	for _, at := range []int64{man.data + man.sz, man.data + (man.sz+511)/512*512, int64(len(full)) - 512} {
		p := filepath.Join(t.TempDir(), "cut.tar")
		write(t, p, full[:at])
		if _, err := Verify(p, VerifyOptions{}); err != nil {
			t.Errorf("Verify cut at %d of %d, after the manifest: %v", at, len(full), err)
		}
	}
}

// endOf is what a cut right after sp's data is: inside its padding, or at
// the next header when it needs none.
func endOf(sp span) string {
	if sp.sz%512 == 0 {
		return "it has no manifest"
	}
	return "truncated"
}

func TestVerifyFlippedBytes(t *testing.T) {
	fx := newFixture(t, "a")
	res := fx.create(t)
	full, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	sp := spans(t, res.Path)
	in, tok, man := sp[innerName(t, res.Manifest)], sp["secrets/gateway-token"], sp[ManifestName]
	tests := []struct {
		name string
		at   int64
		want string // "" for any damage
	}{
		{"gzip header mtime", in.data + 5, "does not match its checksum"},
		{"deflate data", in.data + in.sz/3, ""},
		{"deflate data later", in.data + in.sz*2/3, ""},
		{"gzip trailer checksum", in.data + in.sz - 6, "OpenClaw's archive"},
		{"gzip trailer length", in.data + in.sz - 2, "OpenClaw's archive"},
		{"token", tok.data + 2, "secrets/gateway-token does not match its checksum"},
		{"a header", tok.header + 10, ""},
		{"the manifest", man.data + 1, "its manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(full)
			b[tc.at] ^= 0x20
			p := filepath.Join(t.TempDir(), "flipped.tar")
			write(t, p, b)
			_, err := Verify(p, VerifyOptions{})
			wantDamaged(t, err, p, tc.want)
		})
	}
}

func TestVerifyMembers(t *testing.T) {
	fx := newFixture(t, "a")
	res := fx.create(t)
	inName := innerName(t, res.Manifest)
	without := func(name string) func([]member) []member {
		return func(ms []member) []member {
			return slices.DeleteFunc(ms, func(x member) bool { return x.hdr.Name == name })
		}
	}
	before := func(x member) func([]member) []member { // x goes before the manifest
		return func(ms []member) []member { return slices.Insert(ms, len(ms)-1, x) }
	}
	reg := func(name, body string) member {
		return member{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600}, []byte(body)}
	}
	tests := []struct {
		name string
		edit func([]member) []member
		fix  func(*Manifest) // nil: the manifest as Create wrote it
		want string
	}{
		{"extra member", before(reg("caddy/extra", "x")), nil, "caddy/extra is not in its manifest"},
		{"unknown member", before(reg("secrets/extra", "x")), nil, "secrets/extra is not a member an openclawd archive has"},
		{"a second file under openclaw/", before(reg("openclaw/b", "x")), nil, "openclaw/b is not a member an openclawd archive has"},
		{"an OpenClaw archive in a subdirectory", before(reg("openclaw/x/a.tar.gz", "x")), nil, "openclaw/x/a.tar.gz is not a member"},
		{"missing member", without("secrets/gateway-token"), nil, "secrets/gateway-token is missing"},
		{"missing OpenClaw archive", without(inName), func(*Manifest) {}, "it holds no OpenClaw archive"},
		{"no manifest", without(ManifestName), nil, "it has no manifest"},
		{"member after the manifest", func(ms []member) []member { return append(ms, reg("caddy/late", "x")) }, nil,
			"caddy/late follows the manifest"},
		{"member twice", func(ms []member) []member {
			for _, x := range ms {
				if x.hdr.Name == "secrets/gateway-token" {
					return before(x)(ms)
				}
			}
			return ms
		}, nil, "secrets/gateway-token appears twice"},
		{"two OpenClaw archives", func(ms []member) []member {
			x := ms[0]
			x.hdr.Name = "openclaw/again.tar.gz"
			return before(x)(ms)
		}, func(*Manifest) {}, "two OpenClaw archives"},
		{"size differs", nil, func(m *Manifest) { m.Files[1].Size++ }, "does not match its checksum"},
		{"manifest not JSON", func(ms []member) []member {
			ms[len(ms)-1].body = []byte("{\"format\":")
			return ms
		}, nil, "its manifest"},
		{"manifest names another openclaw", nil, func(m *Manifest) { m.OpenclawVersion = "2026.9.7" }, "does not describe the OpenClaw archive"},
		{"manifest names another state dir", nil, func(m *Manifest) { m.GatewayStateDir = "/elsewhere" }, "does not describe the OpenClaw archive"},
		{"manifest lists fewer databases", nil, func(m *Manifest) { m.Gateway.Databases = m.Gateway.Databases[:1] }, "does not describe the OpenClaw archive"},
		{"unsafe name ..", before(reg("../x", "x")), func(*Manifest) {}, `unsafe member name "../x"`},
		{"unsafe name inside", before(reg("caddy/../../x", "x")), func(*Manifest) {}, `unsafe member name "caddy/../../x"`},
		{"absolute name", before(reg("/etc/cron.d/x", "x")), func(*Manifest) {}, `unsafe member name "/etc/cron.d/x"`},
		{"symlink", before(member{tar.Header{Name: "secrets/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}, nil}),
			func(*Manifest) {}, "secrets/link is not a regular file"},
		{"directory", before(member{tar.Header{Name: "caddy/sub", Typeflag: tar.TypeDir, Mode: 0o700}, nil}),
			func(*Manifest) {}, "caddy/sub is not a regular file"},
		{"directory, slash", before(member{tar.Header{Name: "caddy/sub/", Typeflag: tar.TypeDir, Mode: 0o700}, nil}),
			func(*Manifest) {}, `unsafe member name "caddy/sub/"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.tar")
			rewrite(t, res.Path, p, tc.edit, tc.fix)
			_, err := Verify(p, VerifyOptions{})
			wantDamaged(t, err, p, tc.want)
		})
	}
	// The rewrite itself keeps a good archive good.
	p := filepath.Join(t.TempDir(), "same.tar")
	rewrite(t, res.Path, p, nil, func(*Manifest) {})
	if _, err := Verify(p, VerifyOptions{}); err != nil {
		t.Fatalf("Verify of a rewritten archive: %v", err)
	}
}

// replaceInner writes dst: res's archive with OpenClaw's archive replaced
// by the one oc makes, and a manifest that matches it (so that only the
// inner archive's damage is there to find).
func replaceInner(t *testing.T, res Result, oc *fakeOpenclaw, dst string) {
	t.Helper()
	inName := innerName(t, res.Manifest)
	body := oc.archive()
	rewrite(t, res.Path, dst, func(ms []member) []member {
		for i := range ms {
			if ms[i].hdr.Name == inName {
				ms[i].body = body
			}
		}
		return ms
	}, func(*Manifest) {})
}

func TestVerifyDamagedInner(t *testing.T) {
	agentDB := "agents/main/agent/openclaw-agent.sqlite"
	editDB := func(db string, f func([]byte) []byte) func(*fakeOpenclaw) {
		return func(oc *fakeOpenclaw) {
			oc.edit = func(rel string, b []byte) []byte {
				if rel == db {
					return f(b)
				}
				return b
			}
		}
	}
	tests := []struct {
		name string
		oc   func(*fakeOpenclaw)
		want string
	}{
		{"database header", editDB(agentDB, func(b []byte) []byte { b[3] = 'X'; return b }),
			"the database " + agentDB + " in the archive is damaged: not a SQLite database"},
		{"database cut mid-page", editDB("state/openclaw.sqlite", func(b []byte) []byte { return b[:4000] }),
			"4000 bytes is not a whole number of 4096-byte pages"},
		{"database a page short", editDB("state/openclaw.sqlite", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[28:], 2)
			return b
		}), "the header says 2 pages, the file has 1"},
		{"database shorter than its header", editDB(agentDB, func(b []byte) []byte { return b[:50] }),
			"50 bytes is shorter than a SQLite header"},
		{"database page size", editDB(agentDB, func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[16:], 1000)
			return b
		}), "page size 1000 is invalid"},
		{"unsafe name", func(oc *fakeOpenclaw) { oc.extra = []innerEntry{{name: innerRoot + "/payload/../../x"}} },
			"OpenClaw's archive: unsafe member name"},
		{"absolute name", func(oc *fakeOpenclaw) { oc.extra = []innerEntry{{name: "/" + innerRoot + "/x"}} },
			"OpenClaw's archive: unsafe member name"},
		{"parent name", func(oc *fakeOpenclaw) { oc.extra = []innerEntry{{name: "../x"}} },
			"OpenClaw's archive: unsafe member name \"../x\""},
		{"device", func(oc *fakeOpenclaw) { oc.extra = []innerEntry{{name: innerRoot + "/payload/dev", typ: tar.TypeChar}} },
			"of a type a backup never has"},
		{"no openclaw.json", func(oc *fakeOpenclaw) { oc.skip = func(rel string) bool { return rel == "openclaw.json" } },
			"holds no openclaw.json"},
	}
	fx := newFixture(t, "a")
	res := fx.create(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Create refuses it...
			other := newFixture(t, "b")
			oc := other.fake(t)
			tc.oc(oc)
			if _, err := Create(context.Background(), other.options(oc, testNow)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create = %v, want an error saying %q", err, tc.want)
			}
			assertNoArchive(t, other.l.Backups())
			// ...and so does Verify, of an archive made around it.
			oc = fx.fake(t)
			tc.oc(oc)
			p := filepath.Join(t.TempDir(), "bad.tar")
			replaceInner(t, res, oc, p)
			_, err := Verify(p, VerifyOptions{})
			wantDamaged(t, err, p, tc.want)
		})
	}
}

func TestVerifyComparisons(t *testing.T) {
	fx := newFixture(t, "a")
	res := fx.create(t)
	live, err := LiveContent(fx.l)
	if err != nil {
		t.Fatal(err)
	}
	more := live
	more.Databases = append(slices.Clone(live.Databases), "memory/index.sqlite")
	tests := []struct {
		name string
		o    VerifyOptions
		want []string // nil: no error
	}{
		{"same openclaw", VerifyOptions{Openclaw: "2026.9.6"}, nil},
		{"newer openclaw installed", VerifyOptions{Openclaw: "2026.10.1"}, nil},
		{"prerelease of the same", VerifyOptions{Openclaw: "2026.9.6-beta.2"}, nil},
		{"older openclaw installed", VerifyOptions{Openclaw: "2026.8.30"},
			[]string{"made by openclaw 2026.9.6, newer than the installed 2026.8.30", "install 2026.9.6 first", "then restore"}},
		{"older year", VerifyOptions{Openclaw: "v2025.12.31"}, []string{"newer than the installed v2025.12.31", "install 2026.9.6 first"}},
		{"unparseable installed version", VerifyOptions{Openclaw: "latest"}, []string{"is not a version like 2026.9.6"}},
		{"live state", VerifyOptions{Live: &live, LiveStateDir: fx.l.Gateway()}, nil},
		{"live state has one more database", VerifyOptions{Live: &more},
			[]string{"the archive lacks databases the live state has: memory/index.sqlite"}},
		{"live state elsewhere", VerifyOptions{Live: &live, LiveStateDir: "/var/lib/openclawd/openclaw"},
			[]string{"the archive holds " + fx.l.Gateway() + ", but the gateway's state is in /var/lib/openclawd/openclaw", "backed up the wrong directory"}},
		{"live config", VerifyOptions{Live: &Content{Config: true}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(res.Path, tc.o)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify accepted it")
			}
			var de *DamagedError
			if errors.As(err, &de) {
				t.Errorf("a whole archive reported damaged: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}

	// An archive without openclaw.json, against a live state with one.
	if err := holdsLive(Manifest{}, Content{Config: true}, ""); err == nil || !strings.Contains(err.Error(), "lacks openclaw.json") {
		t.Errorf("holdsLive without openclaw.json: %v", err)
	}

	// A newer format: not damaged, but not for this openclawd.
	p := filepath.Join(t.TempDir(), "v2.tar")
	rewrite(t, res.Path, p, nil, func(m *Manifest) { m.Format = 2; m.OpenclawdVersion = "1.4.0" })
	_, err = Verify(p, VerifyOptions{})
	var de *DamagedError
	if err == nil || errors.As(err, &de) || !strings.Contains(err.Error(), "format 2") || !strings.Contains(err.Error(), "(1.4.0) or a newer one") {
		t.Errorf("Verify of format 2: %v", err)
	}
}

func TestVerifyNotAnArchive(t *testing.T) {
	dir := t.TempDir()
	if _, err := Verify(filepath.Join(dir, "none.tar"), VerifyOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Verify of no file: %v", err)
	}
	p := filepath.Join(dir, "notes.tar")
	write(t, p, bytes.Repeat([]byte("not a tar archive\n"), 100))
	_, err := Verify(p, VerifyOptions{})
	wantDamaged(t, err, p)
	// VerifyReader has no path to name.
	_, err = VerifyReader(bytes.NewReader(nil), VerifyOptions{})
	wantDamaged(t, err, "the archive", "it has no manifest")
}

func TestCheckSQLite(t *testing.T) {
	good := sqliteDB()
	two := append(bytes.Clone(good), make([]byte, 4096)...)
	binary.BigEndian.PutUint32(two[28:], 2)
	stale := bytes.Clone(two) // page count not vouched for: any whole number of pages
	binary.BigEndian.PutUint32(stale[28:], 1)
	binary.BigEndian.PutUint32(stale[92:], 6)
	big := bytes.Clone(good)
	binary.BigEndian.PutUint16(big[16:], 1) // 65536
	big = append(big, make([]byte, 65536-len(big))...)
	binary.BigEndian.PutUint32(big[28:], 1)
	tests := []struct {
		name string
		b    []byte
		want string // "" for whole
	}{
		{"one page", good, ""},
		{"two pages", two, ""},
		{"page count not vouched for", stale, ""},
		{"64 KiB pages", big, ""},
		{"empty", nil, "shorter than a SQLite header"},
		{"half a header", good[:60], "shorter than a SQLite header"},
		{"just the header", good[:100], "not a whole number"},
		{"a page and a bit", append(bytes.Clone(good), 1), "not a whole number"},
		{"page count vouched for, wrong", append(bytes.Clone(good), make([]byte, 4096)...), "the header says 1 pages, the file has 2"},
		{"magic", append([]byte("SQLite format 4\x00"), good[16:]...), "not a SQLite database"},
		{"page size 0", func() []byte { b := bytes.Clone(good); b[16], b[17] = 0, 0; return b }(), "page size 0 is invalid"},
		{"page size 256", func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint16(b[16:], 256); return b }(), "page size 256 is invalid"},
		{"page size 3072", func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint16(b[16:], 3072); return b }(), "page size 3072 is invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSQLite(bytes.NewReader(tc.b), int64(len(tc.b)))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkSQLite: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkSQLite = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSafeName(t *testing.T) {
	for name, ok := range map[string]bool{
		"openclaw/x.tar.gz": true, "a/b/c": true, "a..b": true, "..a/b": true, "a/..b": true,
		"": false, "/": false, "/abs": false, "..": false, "../x": false, "a/../b": false, "a/..": false,
		"./a": false, "a/./b": false, "a//b": false, "a/": false, "a\x00b": false,
	} {
		if err := safeName(name); (err == nil) != ok {
			t.Errorf("safeName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
