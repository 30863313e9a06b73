package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/treesnap"
	"github.com/openclawd/openclawd/statedir"
)

// innerRoot is the single top directory of OpenClaw's archive, as
// `openclaw backup create` names it.
const innerRoot = "2026-12-06T02-54-48.553+00-00-openclaw-backup"

// The two databases every test state holds, as LiveContent lists them.
var stateDatabases = []string{"agents/main/agent/openclaw-agent.sqlite", "state/openclaw.sqlite"}

// sqliteDB returns a valid, empty SQLite database of one 4096-byte page:
// the 100-byte header and an empty sqlite_schema table leaf. (`sqlite3 f
// 'PRAGMA integrity_check'` says ok.)
func sqliteDB() []byte {
	const page = 4096
	b := make([]byte, page)
	copy(b, "SQLite format 3\x00")
	binary.BigEndian.PutUint16(b[16:], page)
	b[18], b[19] = 1, 1                         // rollback journal
	b[21], b[22], b[23] = 64, 32, 32            // payload fractions
	binary.BigEndian.PutUint32(b[24:], 7)       // change counter
	binary.BigEndian.PutUint32(b[28:], 1)       // pages
	binary.BigEndian.PutUint32(b[44:], 4)       // schema format
	binary.BigEndian.PutUint32(b[56:], 1)       // UTF-8
	binary.BigEndian.PutUint32(b[92:], 7)       // version-valid-for = change counter
	binary.BigEndian.PutUint32(b[96:], 3046001) // SQLite 3.46.1
	b[100] = 0x0d                               // table b-tree leaf, no cells
	binary.BigEndian.PutUint16(b[105:], page)   // cell content area starts at the end
	return b
}

// write creates p (and its parents) with body.
func write(t *testing.T, p string, body []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixture is a state dir with a gateway state, a token, Caddy's storage
// and openclawd's config and env files beside it.
type fixture struct {
	l               statedir.Layout
	config, envFile string
}

// newFixture builds a realistic state dir; tag makes its files' contents
// differ from another fixture's.
func newFixture(t *testing.T, tag string) fixture {
	t.Helper()
	dir := t.TempDir()
	l := statedir.New(filepath.Join(dir, "state"))
	if err := l.Ensure(); err != nil {
		t.Fatal(err)
	}
	g := l.Gateway()
	write(t, filepath.Join(g, "openclaw.json"), fmt.Appendf(nil, `{"gateway":{"mode":"local"},"meta":{"tag":%q}}`, tag))
	write(t, filepath.Join(g, "state", "openclaw.sqlite"), sqliteDB())
	write(t, filepath.Join(g, "agents", "main", "agent", "openclaw-agent.sqlite"), sqliteDB())
	write(t, filepath.Join(g, "agents", "main", "sessions", "s1.jsonl"), []byte(`{"role":"user","text":"`+tag+`"}`+"\n"))
	write(t, filepath.Join(g, "workspace", "AGENTS.md"), []byte("# "+tag+"\n"))
	// OpenClaw regenerates tmp/: LiveContent does not require its
	// databases, and the fake (like openclaw) leaves tmp/ out.
	write(t, filepath.Join(g, "tmp", "scratch.sqlite"), sqliteDB())
	if err := os.Symlink("agents/main", filepath.Join(g, "main-agent")); err != nil {
		t.Fatal(err)
	}
	write(t, l.TokenFile(), []byte("token-"+tag+"\n"))
	cert := filepath.Join(l.Caddy(), "certificates", "local", "claw.example.com")
	write(t, filepath.Join(cert, "claw.example.com.crt"), []byte("-----BEGIN CERTIFICATE-----\n"+tag+"\n"))
	write(t, filepath.Join(cert, "claw.example.com.key"), []byte("-----BEGIN EC PRIVATE KEY-----\n"+tag+"\n"))
	write(t, filepath.Join(cert, "claw.example.com.json"), []byte(`{"sans":["claw.example.com"]}`))
	write(t, filepath.Join(l.Caddy(), "pki", "authorities", "local", "root.crt"), []byte("root-"+tag))
	write(t, filepath.Join(l.Caddy(), "locks", "issue_cert_claw.example.com.lock"), []byte("{}"))
	f := fixture{l: l, config: filepath.Join(dir, "openclawd.yaml"), envFile: filepath.Join(dir, "gateway.env")}
	write(t, f.config, []byte("state_dir: "+l.Root+"\n# "+tag+"\n"))
	write(t, f.envFile, []byte("ANTHROPIC_API_KEY=sk-"+tag+"\n"))
	return f
}

// innerEntry is one extra member of a fake OpenClaw archive, by full name.
type innerEntry struct {
	name string
	typ  byte
	body []byte
	link string
}

// fakeOpenclaw stands in for `openclaw backup create --verify --json
// --output DIR`: it writes a real gzip tar of the gateway state dir in
// OpenClaw's layout (<root>/payload/posix<stateDir>/..., manifest.json
// last) into DIR and prints its JSON result. It is a fake on purpose: the
// real CLI is exercised by the e2e tests; these test what openclawd does
// with whatever OpenClaw hands it, including what it must refuse.
type fakeOpenclaw struct {
	t        *testing.T
	src      string                            // the directory archived
	stateDir string                            // what the archive says it is; default src
	version  string                            // runtimeVersion; default 2026.9.6
	schema   int                               // schemaVersion; default 1
	skip     func(rel string) bool             // leaves entries out (tmp/ always)
	edit     func(rel string, b []byte) []byte // changes a file's bytes
	extra    []innerEntry                      // before manifest.json
	// What it does instead of succeeding.
	noArchive bool
	err       error
	result    func(archive string) string // its standard output
	calls     int
}

func (f *fakeOpenclaw) run(_ context.Context, args ...string) ([]byte, error) {
	f.t.Helper()
	f.calls++
	want := []string{"backup", "create", "--verify", "--json", "--output"}
	if len(args) != len(want)+1 || strings.Join(args[:len(want)], " ") != strings.Join(want, " ") {
		f.t.Fatalf("openclaw called with %q, want %q DIR", args, want)
	}
	if f.err != nil {
		return []byte("Error: gateway lock held\n"), f.err
	}
	out := filepath.Join(args[len(want)], innerRoot+".tar.gz")
	if !f.noArchive {
		if err := os.WriteFile(out, f.archive(), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
	if f.result != nil {
		return []byte(f.result(out)), nil
	}
	res, _ := json.Marshal(map[string]any{"archivePath": out, "verified": true, "assetCount": 1})
	// openclaw prints progress before its JSON on some versions.
	return append([]byte("Backing up 1 asset...\n"), res...), nil
}

// archive returns the gzip tar OpenClaw would write.
func (f *fakeOpenclaw) archive() []byte {
	f.t.Helper()
	stateDir := f.stateDir
	if stateDir == "" {
		stateDir = f.src
	}
	version, schema := f.version, f.schema
	if version == "" {
		version = "2026.9.6"
	}
	if schema == 0 {
		schema = 1
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	mtime := time.Date(2026, 12, 6, 2, 54, 48, 0, time.UTC)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = mtime
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			f.t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			f.t.Fatal(err)
		}
	}
	add(&tar.Header{Name: innerRoot + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	prefix := innerRoot + "/payload/posix" + path.Clean(stateDir)
	err := filepath.WalkDir(f.src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.src, p)
		rel = filepath.ToSlash(rel)
		if rel == "tmp" || f.skip != nil && f.skip(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := prefix
		if rel != "." {
			name += "/" + rel
		}
		switch {
		case d.IsDir():
			add(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o700}, nil)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			add(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: link, Mode: 0o777}, nil)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if f.edit != nil {
				b = f.edit(rel, b)
			}
			add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: int64(fi.Mode().Perm())}, b)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range f.extra {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		add(&tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o600}, e.body)
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": schema, "createdAt": "2026-12-06T02:54:48.553Z", "archiveRoot": innerRoot,
		"runtimeVersion": version, "platform": "linux", "nodeVersion": "v24.21.0",
		"paths":  map[string]string{"stateDir": stateDir},
		"assets": []map[string]string{{"kind": "state", "sourcePath": stateDir, "archivePath": prefix}},
	})
	add(&tar.Header{Name: innerRoot + "/manifest.json", Typeflag: tar.TypeReg, Mode: 0o644}, manifest)
	if err := tw.Close(); err != nil {
		f.t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		f.t.Fatal(err)
	}
	return buf.Bytes()
}

// options are the Create options for fixture f with the fake openclaw.
func (fx fixture) options(oc *fakeOpenclaw, now time.Time) Options {
	return Options{Layout: fx.l, ConfigPath: fx.config, EnvFile: fx.envFile, Openclaw: oc.run,
		OpenclawdVersion: "0.9.0-test", Now: func() time.Time { return now }}
}

// fake returns a fake openclaw that archives f's gateway state.
func (fx fixture) fake(t *testing.T) *fakeOpenclaw {
	return &fakeOpenclaw{t: t, src: fx.l.Gateway()}
}

var testNow = time.Date(2026, 12, 6, 2, 54, 49, 0, time.UTC)

// create makes one archive of fx, failing t if it cannot.
func (fx fixture) create(t *testing.T) Result {
	t.Helper()
	res, err := Create(context.Background(), fx.options(fx.fake(t), testNow))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return res
}

// member is one member of an openclawd archive.
type member struct {
	hdr  tar.Header
	body []byte
}

func readMembers(t *testing.T, p string) []member {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []member
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, member{*h, b})
	}
}

// rewrite writes dst from src's members as edit returns them. With fix,
// the manifest is made to list the members' real sums first (so that
// only the damage under test is there), then fix edits it.
func rewrite(t *testing.T, src, dst string, edit func([]member) []member, fix func(*Manifest)) {
	t.Helper()
	ms := readMembers(t, src)
	if edit != nil {
		ms = edit(ms)
	}
	if fix != nil {
		var m Manifest
		mi := -1
		var files []File
		for i, x := range ms {
			if x.hdr.Name == ManifestName {
				mi = i
				if err := json.Unmarshal(x.body, &m); err != nil {
					t.Fatal(err)
				}
				continue
			}
			sum := sha256.Sum256(x.body)
			files = append(files, File{Name: x.hdr.Name, Size: int64(len(x.body)), SHA256: hex.EncodeToString(sum[:])})
		}
		m.Files = files
		fix(&m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		ms[mi].body = b
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, x := range ms {
		h := x.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(x.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(x.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, dst, buf.Bytes())
}

// span is where a member lies in an archive's bytes.
type span struct {
	name             string
	header, data, sz int64
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func spans(t *testing.T, p string) map[string]span {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := &countingReader{r: f}
	tr := tar.NewReader(cr)
	out := map[string]span{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		// Names are short: one 512-byte header block, no PAX record.
		out[h.Name] = span{name: h.Name, header: cr.n - 512, data: cr.n, sz: h.Size}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			t.Fatal(err)
		}
	}
}

// innerName is the OpenClaw archive's member name in res's archive.
func innerName(t *testing.T, m Manifest) string {
	t.Helper()
	for _, f := range m.Files {
		if strings.HasPrefix(f.Name, gatewayDir) {
			return f.Name
		}
	}
	t.Fatal("no OpenClaw archive in the manifest")
	return ""
}

// snap describes the tree at p (treesnap), "absent" if there is none.
func snap(t *testing.T, p string) string {
	t.Helper()
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return "absent"
	}
	s, err := treesnap.Of(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// diff lists the lines of two tree descriptions that differ, shortened.
func diff(got, want string) string {
	short := func(s string) string {
		if len(s) > 100 {
			return s[:100] + "…"
		}
		return s
	}
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var out []string
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			out = append(out, "+ "+short(l))
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, "- "+short(l))
		}
	}
	return strings.Join(out, "\n")
}

// snapItems describes each item under root.
func snapItems(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, it := range Items {
		out[it] = snap(t, filepath.Join(root, it))
	}
	return out
}

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// assertNoArchive fails t if dir holds an archive or a partial one.
func assertNoArchive(t *testing.T, dir string) {
	t.Helper()
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("List = %v, want no archive", got)
	}
	for _, n := range names(t, dir) {
		if strings.HasPrefix(n, ".partial-") || strings.HasSuffix(n, Suffix) {
			t.Errorf("%s left in %s", n, dir)
		}
	}
}
