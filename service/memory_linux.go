package service

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/packaging"
	"golang.org/x/sys/unix"
)

// MemoryDropInPath is where the sized bounds go; a drop-in, so the
// packaged unit stays the package's file.
var MemoryDropInPath = "/etc/systemd/system/" + packaging.SystemdUnitName + ".d/50-memory.conf"

// HostRAM is the host's RAM in bytes (0 if unknown).
func HostRAM() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// WriteMemoryDropIn writes the drop-in sized for ramBytes, atomically, and
// has systemd re-read its units when it changed. It reports whether it
// changed (the running service gets the new bounds only at its restart).
// ErrNoServiceManager when systemd does not run this host, ErrNotInstalled
// when openclawd's unit is not installed.
func WriteMemoryDropIn(ctx context.Context, ramBytes int64) (MemoryLimits, bool, error) {
	l := SizeMemory(ramBytes)
	if _, err := os.Stat(Host.SystemdDir); err != nil {
		return l, false, ErrNoServiceManager
	}
	if !unitInstalled() {
		return l, false, ErrNotInstalled // nothing to bound yet
	}
	text := []byte(MemoryDropIn(l, ramBytes))
	if cur, err := os.ReadFile(MemoryDropInPath); err == nil && bytes.Equal(cur, text) {
		return l, false, nil
	}
	if err := os.MkdirAll(filepath.Dir(MemoryDropInPath), 0o755); err != nil {
		return l, false, fmt.Errorf("writing the memory bounds: %w", err)
	}
	if err := fsutil.WriteFileAtomic(MemoryDropInPath, text, 0o644); err != nil {
		return l, false, fmt.Errorf("writing the memory bounds: %w", err)
	}
	if err := runTool(ctx, "systemctl", "daemon-reload"); err != nil {
		return l, true, err
	}
	return l, true, nil
}

// unitInstalled: our unit, from `service install` or the package.
func unitInstalled() bool {
	for _, dir := range []string{filepath.Dir(filepath.Dir(MemoryDropInPath)), "/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(dir, packaging.SystemdUnitName)); err == nil {
			return true
		}
	}
	return false
}
