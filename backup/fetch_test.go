package backup

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/openclawd/openclawd/backup/target"
)

func TestFetch(t *testing.T) {
	ctx := context.Background()
	a := newFixture(t, "a")
	older := a.create(t)
	newer, err := Create(ctx, a.options(a.fake(t), testNow.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	usb := filepath.Join(t.TempDir(), "usb")
	if err := os.Mkdir(usb, 0o700); err != nil {
		t.Fatal(err)
	}
	plain, err := target.NewDir("usb", usb)
	if err != nil {
		t.Fatal(err)
	}
	enc := target.Encrypt(plain, []age.Recipient{id.Recipient()})
	put := func(tg target.Target, p string) {
		t.Helper()
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		if err := tg.Put(ctx, filepath.Base(p), f, fi.Size()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Latest(ctx, plain); err == nil || !strings.Contains(err.Error(), "holds no archive") {
		t.Errorf("Latest of an empty target: %v", err)
	}
	put(plain, older.Path)
	put(enc, newer.Path)
	latest, err := Latest(ctx, plain)
	if err != nil || latest != filepath.Base(newer.Path)+".age" {
		t.Fatalf("Latest = %s, %v; want the newer, encrypted", latest, err)
	}
	same := func(got, want string) {
		t.Helper()
		g, _ := os.ReadFile(got)
		w, _ := os.ReadFile(want)
		if len(g) == 0 || !bytes.Equal(g, w) {
			t.Errorf("%s differs from %s", got, want)
		}
		if _, err := Verify(got, VerifyOptions{}); err != nil {
			t.Error(err)
		}
	}

	dir := t.TempDir()
	// Encrypted, without the key: nothing is left behind.
	if _, err := Fetch(ctx, plain, latest, nil, dir); err == nil || !strings.Contains(err.Error(), "identity file") {
		t.Errorf("Fetch of an encrypted archive without a key: %v", err)
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := Fetch(ctx, plain, latest, []age.Identity{other}, dir); !errors.Is(err, target.ErrWrongKey) {
		t.Errorf("Fetch with the wrong key: %v", err)
	}
	if n := names(t, dir); len(n) != 0 {
		t.Errorf("left behind: %q", n)
	}
	p, err := Fetch(ctx, plain, latest, []age.Identity{id}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(dir, filepath.Base(newer.Path)) {
		t.Errorf("Fetch wrote %s", p)
	}
	same(p, newer.Path)
	p, err = Fetch(ctx, plain, filepath.Base(older.Path), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	same(p, older.Path)
	// Here already with the same bytes: read in full again, kept.
	if p2, err := Fetch(ctx, plain, filepath.Base(older.Path), nil, dir); err != nil || p2 != p {
		t.Errorf("Fetch of one here already = %s, %v", p2, err)
	}
	// The copy is read even so: a verify --from must see the target's.
	if err := plain.Delete(ctx, filepath.Base(older.Path)); err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(ctx, plain, filepath.Base(older.Path), nil, dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Fetch of a copy gone from the target, with one here: %v", err)
	}
	// A different archive of the same name here is not overwritten.
	write(t, p, []byte("another host's"))
	if err := plain.Put(ctx, filepath.Base(older.Path), strings.NewReader(string(readAll(t, older.Path))), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(ctx, plain, filepath.Base(older.Path), nil, dir); err == nil || !strings.Contains(err.Error(), "differs from the copy") {
		t.Errorf("Fetch over a different archive of the same name: %v", err)
	}

	// Not an archive's name.
	for _, name := range []string{"../" + filepath.Base(older.Path), "notes.txt", "openclawd-backup-20261206T025449Z.tar.gz", ""} {
		if _, err := Fetch(ctx, plain, name, nil, t.TempDir()); err == nil || !strings.Contains(err.Error(), "is not an archive name") {
			t.Errorf("Fetch(%q): %v", name, err)
		}
	}
	// Not there.
	if _, err := Fetch(ctx, plain, "openclawd-backup-20200101T000000Z.tar", nil, t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Fetch of a missing archive: %v", err)
	}

	// A truncated encrypted copy: an error, and no archive, whole or partial.
	stored := filepath.Join(plain.Describe(), latest)
	b, err := os.ReadFile(stored)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stored, b[:len(b)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if _, err := Fetch(ctx, plain, latest, []age.Identity{id}, dir); err == nil || !strings.Contains(err.Error(), "truncated or damaged") {
		t.Errorf("Fetch of a truncated copy: %v", err)
	}
	if n := names(t, dir); len(n) != 0 {
		t.Errorf("left behind: %q", n)
	}
}

func readAll(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
