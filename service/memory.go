package service

import (
	"fmt"
	"strings"
)

// MemoryLimits are the unit's memory bounds (systemd MemoryHigh= and
// MemoryMax=) for openclawd's whole cgroup: openclawd, Caddy and the
// gateway's tree.
type MemoryLimits struct {
	High, Max int64 // bytes
}

// SizeMemory sizes the bounds from the host's RAM. A reserve of an eighth
// of RAM (128 MiB to 2 GiB) stays outside, so that sshd and the kernel keep
// working while the gateway grows: past MemoryMax the cgroup swaps, and
// without swap the OOM killer picks inside the cgroup (the gateway, whose
// oom_score_adj openclawd raises), never the host's login. On a 1 GB host
// that leaves room for the gateway's start-up peak (about 0.75 GB
// anonymous, docs/memory.md) even without swap. MemoryHigh, a sixteenth
// lower, makes the kernel reclaim from the gateway first.
func SizeMemory(ramBytes int64) MemoryLimits {
	reserve := min(max(ramBytes/8, 128<<20), 2<<30)
	m := max(ramBytes-reserve, 512<<20)
	return MemoryLimits{High: m - m/16, Max: m}
}

// MemoryDropIn is the drop-in's text.
func MemoryDropIn(l MemoryLimits, ramBytes int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by openclawd (service install, setup): sized from this host's\n")
	fmt.Fprintf(&b, "# %d MiB of RAM. It is rewritten when the RAM changes; to choose your own\n", ramBytes>>20)
	fmt.Fprintf(&b, "# bounds, put them in a later drop-in (`sudo systemctl edit openclawd`).\n")
	fmt.Fprintf(&b, "[Service]\nMemoryAccounting=yes\nMemoryHigh=%dM\nMemoryMax=%dM\n", l.High>>20, l.Max>>20)
	return b.String()
}
