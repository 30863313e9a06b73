package target

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// randomBytes is incompressible test data, deterministic per seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var errReader = errors.New("disk read error in the archiver")

// failingReader returns n bytes of data, then errReader.
type failingReader struct {
	r io.Reader
}

func failAfter(data []byte, n int) io.Reader {
	return &failingReader{r: bytes.NewReader(data[:n])}
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errReader
	}
	return n, err
}

func readAll(t *testing.T, tg Target, name string) []byte {
	t.Helper()
	rc, err := tg.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return b
}

func names(objs []Object) []string {
	var s []string
	for _, o := range objs {
		s = append(s, o.Name)
	}
	return s
}

func wantNames(t *testing.T, tg Target, want ...string) []Object {
	t.Helper()
	objs, err := tg.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := strings.Join(names(objs), ","); got != strings.Join(want, ",") {
		t.Fatalf("List = [%s], want [%s]", got, strings.Join(want, ","))
	}
	return objs
}

func wantErr(t *testing.T, err error, kind error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one saying %q", words)
	}
	t.Logf("error: %v", err)
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("error %q does not match %v", err, kind)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

func newDir(t *testing.T) (Target, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "backups")
	d, err := NewDir("disk", p)
	if err != nil {
		t.Fatal(err)
	}
	return d, p
}

func TestDirRoundTrip(t *testing.T) {
	ctx := context.Background()
	d, p := newDir(t)
	if err := d.(Checker).Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("directory not created 0700: %v %v", st.Mode(), err)
	}
	older, newer := randomBytes(100_000, 1), randomBytes(3<<20, 2)
	if err := d.Put(ctx, "openclawd-1.tar", bytes.NewReader(older), int64(len(older))); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "openclawd-2.tar", bytes.NewReader(newer), -1); err != nil {
		t.Fatal(err)
	}
	// Not archives: a dotfile, a directory, a symlink.
	os.WriteFile(filepath.Join(p, ".notes"), []byte("x"), 0o600)
	os.Mkdir(filepath.Join(p, "sub"), 0o700)
	os.Symlink(filepath.Join(p, "openclawd-1.tar"), filepath.Join(p, "link"))

	objs := wantNames(t, d, "openclawd-2.tar", "openclawd-1.tar")
	if objs[0].Size != int64(len(newer)) || objs[1].Size != int64(len(older)) || objs[0].Modified.IsZero() {
		t.Errorf("List = %+v", objs)
	}
	if fi, _ := os.Stat(filepath.Join(p, "openclawd-1.tar")); fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %v, want 0600", fi.Mode())
	}
	if got := readAll(t, d, "openclawd-2.tar"); !bytes.Equal(got, newer) {
		t.Fatal("Open returned different bytes")
	}

	err = d.Put(ctx, "openclawd-1.tar", strings.NewReader("other"), 5)
	wantErr(t, err, ErrExists, "already exists")
	if got := readAll(t, d, "openclawd-1.tar"); !bytes.Equal(got, older) {
		t.Fatal("a refused Put changed the archive")
	}

	if err := d.Delete(ctx, "openclawd-1.tar"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "openclawd-1.tar"); err != nil {
		t.Errorf("deleting a missing archive: %v", err)
	}
	if err := d.Delete(ctx, "sub"); err == nil {
		t.Error("Delete removed a directory")
	}
	wantNames(t, d, "openclawd-2.tar")
	_, err = d.Open(ctx, "openclawd-1.tar")
	wantErr(t, err, fs.ErrNotExist, "openclawd-1.tar")
	_, err = d.Open(ctx, "link")
	if err == nil {
		t.Error("Open followed a symlink")
	}
	if d.Describe() != p || d.Name() != "disk" {
		t.Errorf("Describe, Name = %q, %q", d.Describe(), d.Name())
	}
}

// TestDirPutFails: whatever goes wrong during a Put, nothing is listed and
// no partial file is left.
func TestDirPutFails(t *testing.T) {
	data := randomBytes(1<<20, 3)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name  string
		ctx   context.Context
		r     io.Reader
		size  int64
		words []string
	}{
		{"reader fails halfway, size known", context.Background(), failAfter(data, len(data)/2), int64(len(data)), []string{errReader.Error()}},
		{"reader fails halfway, size unknown", context.Background(), failAfter(data, len(data)/2), -1, []string{errReader.Error()}},
		{"shorter than announced", context.Background(), bytes.NewReader(data[:1000]), int64(len(data)), []string{"ended after 1000"}},
		{"longer than announced", context.Background(), bytes.NewReader(data), 1000, []string{"longer than the 1000 bytes"}},
		{"cancelled", cancelled, bytes.NewReader(data), int64(len(data)), []string{"context canceled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, p := newDir(t)
			err := d.Put(c.ctx, "a.tar", c.r, c.size)
			wantErr(t, err, nil, c.words...)
			wantNames(t, d)
			left, _ := os.ReadDir(p)
			if len(left) != 0 {
				t.Errorf("left in the directory: %v", left)
			}
		})
	}
}

func TestDirNotMounted(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt", "usb")
	d, err := NewDir("usb", filepath.Join(mnt, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ops := map[string]error{
		"Put":   d.Put(ctx, "a.tar", strings.NewReader("x"), 1),
		"Check": d.(Checker).Check(ctx),
	}
	_, ops["List"] = d.List(ctx)
	for op, err := range ops {
		t.Run(op, func(t *testing.T) {
			wantErr(t, err, fs.ErrNotExist, "is the disk mounted?", filepath.Join(mnt, "backups"))
		})
	}
	if _, err := os.Stat(mnt); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("something was created under the missing mount point: %v", err)
	}
}

func TestNewDirRejects(t *testing.T) {
	for _, p := range []string{"", "relative/backups"} {
		if _, err := NewDir("d", p); err == nil {
			t.Errorf("NewDir(%q) accepted", p)
		}
	}
}

func TestArchiveNames(t *testing.T) {
	d, _ := newDir(t)
	ctx := context.Background()
	for _, name := range []string{"", ".hidden", "../escape", "a/b", `a\b`, "tab\tname", strings.Repeat("x", 201)} {
		if err := d.Put(ctx, name, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) accepted", name)
		}
		if _, err := d.Open(ctx, name); err == nil {
			t.Errorf("Open(%q) accepted", name)
		}
		if err := d.Delete(ctx, name); err == nil {
			t.Errorf("Delete(%q) accepted", name)
		}
	}
}

func TestDirRemovesStalePartials(t *testing.T) {
	d, p := newDir(t)
	ctx := context.Background()
	if err := d.(Checker).Check(ctx); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(p, ".old.tar.partial-0011")
	fresh := filepath.Join(p, ".new.tar.partial-0022")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-stalePartialAge - time.Hour)
	if err := os.Chtimes(stale, past, past); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "a.tar", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale partial still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh partial (maybe a live upload) removed: %v", err)
	}
}
