package fetch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestInstall(t *testing.T) {
	errFill := errors.New("disk full")
	tests := []struct {
		name     string
		existing bool     // final exists beforehand, holding "old"
		stale    []string // siblings present beforehand
		fill     func(tmp string) error
		wantErr  error
		wantDir  []string // parent's entries afterwards
	}{
		{name: "success", wantDir: []string{"v24"}},
		{name: "fill fails", fill: func(tmp string) error {
			os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644)
			return errFill
		}, wantErr: errFill, wantDir: nil},
		{name: "final exists", existing: true, wantErr: fs.ErrExist, wantDir: []string{"v24"}},
		{name: "fill fails with final present", existing: true, fill: func(string) error { return errFill },
			wantErr: fs.ErrExist, wantDir: []string{"v24"}},
		{name: "stale temps removed", stale: []string{".v24.tmp-123", ".v24.tmp-456", ".v240.tmp-1", "v22"},
			wantDir: []string{".v240.tmp-1", "v22", "v24"}},
		{name: "stale temps removed even when fill fails", stale: []string{".v24.tmp-123"},
			fill: func(string) error { return errFill }, wantErr: errFill, wantDir: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "versions")
			final := filepath.Join(parent, "v24")
			if err := os.MkdirAll(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.existing {
				os.Mkdir(final, 0o755)
				writeFile(t, final, "old", []byte("old"))
			}
			for _, s := range tt.stale {
				os.Mkdir(filepath.Join(parent, s), 0o700)
				writeFile(t, filepath.Join(parent, s), "junk", nil)
			}
			fill := tt.fill
			if fill == nil {
				fill = func(tmp string) error {
					return os.WriteFile(filepath.Join(tmp, "new"), []byte("new"), 0o644)
				}
			}
			err := Install(final, fill)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Install error = %v, want %v", err, tt.wantErr)
			}
			if got := listDir(t, parent); !slices.Equal(got, tt.wantDir) {
				t.Errorf("parent holds %q, want %q", got, tt.wantDir)
			}
			switch {
			case tt.existing:
				if got := listDir(t, final); !slices.Equal(got, []string{"old"}) {
					t.Errorf("final changed: holds %q", got)
				}
			case err == nil:
				if fi, err := os.Stat(final); err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("final: %v, %v; want a 0755 dir", fi.Mode(), err)
				}
				if b, err := os.ReadFile(filepath.Join(final, "new")); err != nil || string(b) != "new" {
					t.Errorf("final/new = %q, %v", b, err)
				}
			}
		})
	}
}

func TestInstallCreatesParent(t *testing.T) {
	final := filepath.Join(t.TempDir(), "a", "b", "v24")
	if err := Install(final, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(final); err != nil || !fi.IsDir() {
		t.Fatalf("final: %v", err)
	}
}
