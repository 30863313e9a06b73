package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStage(t *testing.T) {
	a := newFixture(t, "a")
	g := a.l.Gateway()
	write(t, filepath.Join(g, "bin", "tool.sh"), []byte("#!/bin/sh\n"))
	if err := os.Chmod(filepath.Join(g, "bin", "tool.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(g, "workspace", "AGENTS.md"), 0o644); err != nil {
		t.Fatal(err)
	}
	oc := a.fake(t)
	// An asset OpenClaw keeps outside its state dir: listed, not restored.
	oc.extra = []innerEntry{
		{name: innerRoot + "/payload/posix/home/openclaw/.openclaw/workspace/", typ: '5'},
		{name: innerRoot + "/payload/posix/home/openclaw/.openclaw/workspace/notes.md", body: []byte("notes")},
	}
	res, err := Create(context.Background(), a.options(oc, testNow))
	if err != nil {
		t.Fatal(err)
	}

	// Restored into another state dir: the archive's gateway state dir
	// (a's) is remapped to b's.
	b := newFixture(t, "b")
	before := snap(t, b.l.Root)
	s, err := Stage(res.Path, b.l, VerifyOptions{Openclaw: "2026.9.6"})
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if filepath.Dir(s.Dir) != b.l.Restore() || !strings.HasPrefix(filepath.Base(s.Dir), "staged-20261206T025449Z-") ||
		"staged-"+s.ID != filepath.Base(s.Dir) {
		t.Errorf("Dir %s, ID %s", s.Dir, s.ID)
	}
	if !slices.Equal(s.Manifest.Files, res.Manifest.Files) {
		t.Errorf("Manifest %+v", s.Manifest)
	}
	if !slices.Equal(s.Skipped, []string{"/home/openclaw/.openclaw/workspace/notes.md"}) {
		t.Errorf("Skipped = %q", s.Skipped)
	}
	// Nothing live changed.
	if err := os.RemoveAll(s.Dir); err != nil {
		t.Fatal(err)
	}
	if after := snap(t, b.l.Root); after != before {
		t.Errorf("Stage changed the live state dir (+now -before):\n%s", diff(after, before))
	}
	if s, err = Stage(res.Path, b.l, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}

	// Modes: 0600 files (0700 if executable), 0700 directories.
	err = filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			want = fs.ModeDir | 0o700
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil
		case filepath.Base(p) == "tool.sh":
			want = 0o700
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(g, "workspace", "AGENTS.md"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(g, "bin", "tool.sh"), 0o700); err != nil {
		t.Fatal(err)
	}

	// The content is a's, exactly, less what a backup leaves out.
	for _, p := range []string{filepath.Join(g, "tmp"), filepath.Join(a.l.Caddy(), "locks")} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range Items {
		if got, want := snap(t, filepath.Join(s.Dir, it)), snap(t, filepath.Join(a.l.Root, it)); got != want {
			t.Errorf("staged %s differs (+got -want):\n%s", it, diff(got, want))
		}
	}
	if link, err := os.Readlink(filepath.Join(s.Dir, "openclaw", "main-agent")); err != nil || link != "agents/main" {
		t.Errorf("symlink main-agent: %q, %v", link, err)
	}
	for name, src := range map[string]string{"openclawd.yaml": a.config, "gateway.env": a.envFile} {
		got, err := os.ReadFile(filepath.Join(s.Dir, "config", name))
		want, _ := os.ReadFile(src)
		if err != nil || string(got) != string(want) {
			t.Errorf("config/%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestStageRefuses(t *testing.T) {
	a := newFixture(t, "a")
	outside := t.TempDir()
	state := a.l.Gateway()
	tests := []struct {
		name  string
		extra []innerEntry
		want  string
	}{
		{"file beneath a symlink", []innerEntry{
			{name: innerRoot + "/payload/posix" + state + "/evil", typ: '2', link: outside},
			{name: innerRoot + "/payload/posix" + state + "/evil/cron", body: []byte("* * * * * root sh")},
		}, "evil/cron beneath the symbolic link"},
		{"directory beneath a symlink", []innerEntry{
			{name: innerRoot + "/payload/posix" + state + "/agents/evil", typ: '2', link: outside},
			{name: innerRoot + "/payload/posix" + state + "/agents/evil/sub/", typ: '5'},
		}, "agents/evil/sub beneath the symbolic link"},
		{"deep beneath a symlink", []innerEntry{
			{name: innerRoot + "/payload/posix" + state + "/evil", typ: '2', link: outside},
			{name: innerRoot + "/payload/posix" + state + "/evil/a/b/c", body: []byte("x")},
		}, "evil/a/b/c beneath the symbolic link"},
		{"symlink over a file", []innerEntry{
			{name: innerRoot + "/payload/posix" + state + "/workspace/AGENTS.md", typ: '2', link: outside},
		}, "file exists"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oc := a.fake(t)
			oc.extra = tc.extra
			now := testNow.Add(time.Duration(i+1) * time.Second) // each its own name
			res, err := Create(context.Background(), a.options(oc, now))
			if strings.Contains(tc.want, "beneath") {
				// Refused when the archive is made (and so by verify):
				// restore would write nothing beneath a link either.
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Create = %v, want %q", err, tc.want)
				}
				if n := names(t, outside); len(n) != 0 {
					t.Errorf("written through the symlink: %q", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			b := newFixture(t, "b")
			_, err = Stage(res.Path, b.l, VerifyOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "restore: extracting "+res.Path) {
				t.Errorf("Stage = %v, want %q", err, tc.want)
			}
			if n := names(t, b.l.Restore()); len(n) != 0 {
				t.Errorf("left in restore/: %q", n)
			}
			if n := names(t, outside); len(n) != 0 {
				t.Errorf("written through the symlink: %q", n)
			}
		})
	}

	// Verify's refusals are Stage's, and leave nothing staged.
	res := a.create(t)
	b := newFixture(t, "b")
	_, err := Stage(res.Path, b.l, VerifyOptions{Openclaw: "2026.1.1"})
	if err == nil || !strings.Contains(err.Error(), "install 2026.9.6 first") {
		t.Errorf("Stage with an older openclaw: %v", err)
	}
	cut := filepath.Join(t.TempDir(), "cut.tar")
	full, _ := os.ReadFile(res.Path)
	write(t, cut, full[:len(full)/2])
	_, err = Stage(cut, b.l, VerifyOptions{})
	var de *DamagedError
	if !errors.As(err, &de) || de.Path != cut {
		t.Errorf("Stage of a truncated archive: %v", err)
	}
	if n := names(t, b.l.Restore()); len(n) != 0 {
		t.Errorf("left in restore/: %q", n)
	}
}

func TestCleanStaged(t *testing.T) {
	b := newFixture(t, "b")
	r := b.l.Restore()
	for _, d := range []string{"staged-1", "staged-2", "before-1", "failed-1"} {
		write(t, filepath.Join(r, d, "x"), nil)
	}
	write(t, filepath.Join(r, "staged-file"), nil)
	if err := writeJournal(b.l, &Journal{ID: "2", Phase: PhaseGate, Staged: filepath.Join(r, "staged-2"), Aside: filepath.Join(r, "before-2")}); err != nil {
		t.Fatal(err)
	}
	CleanStaged(b.l)
	if got, want := names(t, r), []string{"before-1", "failed-1", "journal.json", "staged-2"}; !slices.Equal(got, want) {
		t.Errorf("after CleanStaged: %q, want %q (the journal's staged dir kept)", got, want)
	}
	// A damaged journal: nothing is removed, for the person who checks.
	write(t, journalPath(b.l), []byte("{"))
	CleanStaged(b.l)
	if got := names(t, r); !slices.Contains(got, "staged-2") {
		t.Errorf("CleanStaged removed the staged dir of a damaged journal: %q", got)
	}
	if err := os.Remove(journalPath(b.l)); err != nil {
		t.Fatal(err)
	}
	CleanStaged(b.l)
	if got, want := names(t, r), []string{"before-1", "failed-1"}; !slices.Equal(got, want) {
		t.Errorf("after CleanStaged without a journal: %q, want %q", got, want)
	}
}

func TestExtractInner(t *testing.T) {
	a := newFixture(t, "a")
	res := a.create(t)
	dir := t.TempDir()
	p, err := ExtractInner(res.Path, dir)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(dir, innerRoot+".tar.gz") {
		t.Errorf("path %s", p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	for _, f := range res.Manifest.Files {
		if f.Name == innerName(t, res.Manifest) && f.SHA256 != hex.EncodeToString(sum[:]) {
			t.Error("the extracted archive differs from the member")
		}
	}
	if fi, _ := os.Stat(p); fi.Mode() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	// Again: it does not overwrite.
	if _, err := ExtractInner(res.Path, dir); !errors.Is(err, fs.ErrExist) {
		t.Errorf("ExtractInner over an existing file: %v", err)
	}
	// An archive without one.
	none := filepath.Join(t.TempDir(), "none.tar")
	rewrite(t, res.Path, none, func(ms []member) []member {
		return slices.DeleteFunc(ms, func(x member) bool { return strings.HasPrefix(x.hdr.Name, gatewayDir) })
	}, nil)
	if _, err := ExtractInner(none, t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no OpenClaw archive") {
		t.Errorf("ExtractInner of an archive without one: %v", err)
	}
}
