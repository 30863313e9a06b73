package fsutil

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	p := filepath.Join(dir, "f")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
	fi, _ := os.Stat(p)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("modes %v %v; want 0600 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestRemoveAllReadOnlyTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o444)
	os.Chmod(filepath.Join(dir, "a", "b"), 0o555)
	os.Chmod(filepath.Join(dir, "a"), 0o555)
	if err := RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("tree still there: %v", err)
	}
}

func TestLockExcludesAndReportsHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	l, err := Acquire(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions: a second Acquire in
	// the same process contends like another process would.
	ctx, cancel := context.WithCancel(context.Background())
	var holder int
	done := make(chan error, 1)
	go func() {
		l2, err := Acquire(ctx, p, func(pid int) { holder = pid; cancel() })
		l2.Unlock()
		done <- err
	}()
	if err := <-done; err != context.Canceled {
		t.Fatalf("second Acquire = %v; want it to wait (and be cancelled)", err)
	}
	if holder != os.Getpid() {
		t.Errorf("holder %d; want %d", holder, os.Getpid())
	}
	l.Unlock()
	l3, err := Acquire(context.Background(), p, nil)
	if err != nil {
		t.Fatalf("Acquire after Unlock: %v", err)
	}
	l3.Unlock()
}
