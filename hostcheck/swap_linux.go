package hostcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/openclawd/openclawd/internal/fsutil"
)

// SwapPlan: under 2 GB of RAM, a swap file that brings RAM+swap to 2 GB,
// at least 1 GB; none at or above.
func SwapPlan(ramBytes int64) (size int64, path string) {
	if ramBytes >= wantTotal {
		return 0, ""
	}
	size = max(wantTotal-ramBytes, gib)
	size = (size + mib - 1) / mib * mib
	return size, "/swapfile"
}

// MakeSwap makes and enables a swap file and records it in /etc/fstab.
func MakeSwap(path string, size int64) error { return makeSwap(path, size, "/etc/fstab") }

// makeSwap: the file is built at path.tmp, then renamed, then enabled;
// fstab is written last, so a refused swapon leaves fstab untouched and
// removes the file. Running it again with the swap in place is a no-op.
func makeSwap(path string, size int64, fstab string) error {
	if active, err := swapActive(path); err != nil {
		return err
	} else if !active {
		if err := buildSwap(path, size); err != nil {
			return err
		}
		if err := swapon(path); err != nil {
			os.Remove(path)
			return fmt.Errorf("swapon %s: %w (the file was removed; fstab is unchanged)", path, err)
		}
	}
	return addFstab(fstab, path)
}

func swapActive(path string) (bool, error) {
	b, err := os.ReadFile("/proc/swaps")
	if err != nil {
		return false, fmt.Errorf("reading /proc/swaps: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[0] == path {
			return true, nil
		}
	}
	return false, nil
}

func buildSwap(path string, size int64) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	// Swap files must have no holes or shared extents. fallocate is fine on
	// ext4; btrfs needs NOCOW and xfs/others may refuse: zero-fill there.
	var st unix.Statfs_t
	useFalloc := unix.Fstatfs(int(f.Fd()), &st) == nil && st.Type == unix.EXT4_SUPER_MAGIC
	if useFalloc {
		useFalloc = unix.Fallocate(int(f.Fd()), 0, 0, size) == nil
	}
	if !useFalloc {
		zero := make([]byte, mib)
		for left := size; left > 0; {
			n := min(left, int64(len(zero)))
			if _, err := f.Write(zero[:n]); err != nil {
				f.Close()
				return fmt.Errorf("writing %s: %w", tmp, err)
			}
			left -= n
		}
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if out, err := exec.Command("mkswap", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("mkswap %s: %w: %s", tmp, err, bytes.TrimSpace(out))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	ok = true
	return nil
}

// addFstab appends "path none swap sw 0 0" unless a line already names path
// as swap, keeping the file's mode and owner.
func addFstab(fstab, path string) error {
	b, err := os.ReadFile(fstab)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", fstab, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == path && f[2] == "swap" {
			return nil
		}
	}
	mode, uid, gid := os.FileMode(0o644), -1, -1
	var st unix.Stat_t
	if unix.Stat(fstab, &st) == nil {
		mode, uid, gid = os.FileMode(st.Mode&0o7777), int(st.Uid), int(st.Gid)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, path+" none swap sw 0 0\n"...)
	if err := fsutil.WriteFileAtomicOwned(fstab, b, mode, uid, gid); err != nil {
		return fmt.Errorf("writing %s: %w", fstab, err)
	}
	return nil
}

func swapon(path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return e
	}
	return nil
}
