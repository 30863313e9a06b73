package openclaw

// HeapMB sizes the gateway's V8 heap from the host's RAM as the official
// unit does: min(max(2048, RAM/2), max(8192, RAM/4), 0.75·RAM) MiB
// (openclaw-gateway.md §3). override > 0 wins.
func HeapMB(ramMB int64, override int) int64 {
	if override > 0 {
		return int64(override)
	}
	if ramMB <= 0 {
		return 2048
	}
	return min(max(2048, ramMB/2), max(8192, ramMB/4), ramMB*3/4)
}
