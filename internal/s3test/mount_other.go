//go:build !linux

package s3test

import (
	"runtime"
	"testing"
)

// mountSmall skips: a size-limited tmpfs is set up on Linux only.
func mountSmall(tb testing.TB, dir string, size int64) {
	tb.Skipf("s3test: a small filesystem is only available on Linux, not %s", runtime.GOOS)
}
