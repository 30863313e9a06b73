package daemon

// macOS has no OOM killer counter to read and no MemAvailable: these
// conditions are not watched there.
func oomKills() int64 { return 0 }

func memAvailable() (avail, total uint64, ok bool) { return 0, 0, false }
