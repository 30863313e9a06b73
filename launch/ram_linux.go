package launch

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// totalRAMMB is the memory the gateway may use: the host's RAM, or less
// if openclawd's cgroup caps it (systemd MemoryMax=), since a heap sized
// past the cap gets the gateway OOM-killed instead of collected.
func totalRAMMB() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	ram := int64(si.Totalram) * int64(si.Unit) >> 20
	if limit := cgroupLimitMB(); limit > 0 && limit < ram {
		return limit
	}
	return ram
}

// cgroupLimitMB reads memory.max of our cgroup (v2), or 0.
func cgroupLimitMB() int64 {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			v, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", rest, "memory.max"))
			if err != nil {
				return 0
			}
			n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
			if err != nil { // "max"
				return 0
			}
			return n >> 20
		}
	}
	return 0
}

// ServiceRAMMB is the memory openclawd's service may use, in MiB: the
// host's RAM or its cgroup's memory.max, whichever is less.
func ServiceRAMMB() int64 { return totalRAMMB() }
