package fsutil

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAcquireRefusesPlantedLockFiles plants what a hostile owner of the
// lock's directory could: Acquire must fail naming the path, and leave
// what the plant points at exactly as it was.
func TestAcquireRefusesPlantedLockFiles(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, lock, target string)
		wantErr string
		root    bool // needs root to plant
	}{
		{name: "symlink to a file outside", wantErr: "is a symlink: refusing to follow it",
			plant: func(t *testing.T, lock, target string) { must(t, os.Symlink(target, lock)) }},
		{name: "dangling symlink", wantErr: "is a symlink",
			plant: func(t *testing.T, lock, target string) {
				must(t, os.Symlink(target+".new", lock))
			}},
		{name: "hard link to a file outside", wantErr: "has 2 hard links",
			plant: func(t *testing.T, lock, target string) { must(t, os.Link(target, lock)) }},
		{name: "FIFO", wantErr: "is not a regular file",
			plant: func(t *testing.T, lock, _ string) { must(t, syscall.Mkfifo(lock, 0o600)) }},
		{name: "directory", wantErr: "opening lock file",
			plant: func(t *testing.T, lock, _ string) { must(t, os.Mkdir(lock, 0o700)) }},
		{name: "another user's file", wantErr: "is owned by uid 65534", root: true,
			plant: func(t *testing.T, lock, _ string) {
				must(t, os.WriteFile(lock, []byte("1\n"), 0o666))
				must(t, os.Chown(lock, 65534, 65534))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			outside := t.TempDir()
			target := filepath.Join(outside, "precious")
			must(t, os.WriteFile(target, []byte("keep me\n"), 0o640))
			before := snapshot(t, outside)
			lock := filepath.Join(t.TempDir(), ".lock")
			tt.plant(t, lock, target)

			l, err := Acquire(context.Background(), lock, nil)
			if err == nil {
				l.Unlock()
				t.Fatal("Acquire succeeded on a planted lock file")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), lock) {
				t.Errorf("error %q; want it to name %s and say %q", err, lock, tt.wantErr)
			}
			if after := snapshot(t, outside); after != before {
				t.Errorf("outside changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

func TestAcquireCreatesPrivateLockFile(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "sub", ".lock")
	l, err := Acquire(context.Background(), lock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	fi, err := os.Lstat(lock)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file %v, %v; want a 0600 regular file", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(lock); strings.TrimSpace(string(b)) != itoa(os.Getpid()) {
		t.Errorf("lock file holds %q; want our pid", b)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
