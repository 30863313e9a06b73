package service

import "context"

// MemoryDropInPath: launchd has none.
var MemoryDropInPath = ""

// HostRAM is unused on macOS: launchd has no memory bounds for a daemon.
func HostRAM() int64 { return 0 }

// WriteMemoryDropIn does nothing on macOS: launchd has no cgroup-style
// bound; openclawd's own restart_above is the bound there.
func WriteMemoryDropIn(context.Context, int64) (MemoryLimits, bool, error) {
	return MemoryLimits{}, false, nil
}
