package target

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDirFull fills a small tmpfs.
func TestDirFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	d, err := NewDir("disk", filepath.Join(mnt, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(2<<20, 4)
	err = d.Put(context.Background(), "big.tar", bytes.NewReader(data), int64(len(data)))
	wantErr(t, err, ErrFull, "is full", filepath.Join(mnt, "backups"))
	wantNames(t, d)
	left, _ := os.ReadDir(filepath.Join(mnt, "backups"))
	if len(left) != 0 {
		t.Errorf("left on the full disk: %v", left)
	}
}
