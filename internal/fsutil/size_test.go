package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirSize(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]int
		want  int64
	}{
		{name: "missing dir", want: 0},
		{name: "nested files", files: map[string]int{"a": 10, "b/c": 20, "b/d/e": 5}, want: 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			for p, n := range tt.files {
				f := filepath.Join(dir, p)
				if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, make([]byte, n), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.files != nil { // a link is not counted
				if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			}
			if got := DirSize(dir); got != tt.want {
				t.Errorf("DirSize = %d, want %d", got, tt.want)
			}
		})
	}
	if free, err := FreeBytes(t.TempDir()); err != nil || free <= 0 {
		t.Errorf("FreeBytes = %d, %v", free, err)
	}
	if _, err := FreeBytes(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("FreeBytes of a missing dir: no error")
	}
}
