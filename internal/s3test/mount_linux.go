package s3test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// mountSmall mounts a tmpfs of size bytes on dir and unmounts it in
// cleanup (registered before the server's, so it runs after the server
// stopped).
func mountSmall(tb testing.TB, dir string, size int64) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("s3test: a small filesystem needs a tmpfs mount, which needs root (euid is %d)", os.Geteuid())
	}
	err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size))
	if errors.Is(err, unix.EPERM) {
		tb.Skipf("s3test: mounting a tmpfs on %s is not permitted here (no CAP_SYS_ADMIN?): %v", dir, err)
	}
	if err != nil {
		tb.Fatalf("s3test: mount tmpfs on %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			tb.Errorf("s3test: unmount %s: %v", dir, err)
		}
	})
}
