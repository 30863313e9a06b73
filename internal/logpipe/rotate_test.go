package logpipe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// logDirState returns the files in dir that belong to the log at path and
// their total size, checking every mode on the way.
func logDirState(t *testing.T, path string) (files int, total int64) {
	t.Helper()
	dir, base := filepath.Split(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), base) {
			t.Errorf("unexpected file %s", e.Name())
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
		files++
		total += info.Size()
	}
	return files, total
}

func TestRotatingFileBounds(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		keep     int
		lineLen  func(i int) int
	}{
		{"fixed lines", 1000, 3, func(int) int { return 100 }},
		{"varying lines", 4096, 2, func(i int) int { return 20 + i*37%300 }},
		{"keep none", 500, 0, func(i int) int { return 10 + i%50 }},
		{"lines near the file size", 100, 2, func(i int) int { return 30 + i%3*30 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state", "logs")
			path := filepath.Join(dir, "gateway.log")
			f, err := OpenRotating(path, tt.maxBytes, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("log dir: %v, mode %v; want 0700", err, st.Mode().Perm())
			}
			var written, maxLine int64
			for i := 0; written < 10*tt.maxBytes; i++ {
				line := fmt.Sprintf("%06d %s\n", i, strings.Repeat("x", tt.lineLen(i)))
				maxLine = max(maxLine, int64(len(line)))
				if _, err := f.Write([]byte(line)); err != nil {
					t.Fatal(err)
				}
				written += int64(len(line))
				files, total := logDirState(t, path)
				limit := int64(tt.keep+1)*tt.maxBytes + maxLine
				if files > tt.keep+1 || total > limit {
					t.Fatalf("after %d bytes: %d files, %d bytes; want <= %d files, <= %d bytes", written, files, total, tt.keep+1, limit)
				}
			}
		})
	}
}

func TestRotatingFileReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("old\n", 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenRotating(path, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("existing file mode %v, want narrowed to 0600", st.Mode().Perm())
	}
	// 80 bytes already there: the next 40-byte line must rotate first.
	if _, err := f.Write([]byte(strings.Repeat("n", 39) + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	if string(old) != strings.Repeat("old\n", 20) {
		t.Errorf("path.1 = %q, want the previous content", old)
	}
	if _, err := f.Write([]byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
}

func TestOpenRotatingErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		maxBytes int64
		keep     int
	}{
		{"zero size", filepath.Join(dir, "a.log"), 0, 1},
		{"negative keep", filepath.Join(dir, "a.log"), 10, -1},
		{"directory is a file", filepath.Join(blocker, "a.log"), 10, 1},
		{"path is a directory", dir, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := OpenRotating(tt.path, tt.maxBytes, tt.keep)
			if err == nil {
				f.Close()
				t.Fatal("OpenRotating succeeded, want error")
			}
			if !strings.Contains(err.Error(), "logpipe:") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
}
