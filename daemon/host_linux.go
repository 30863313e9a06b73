package daemon

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// oomKills is the kernel's count of OOM kills since boot (0 if unknown).
func oomKills() int64 {
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		return 0
	}
	v, _ := field(b, "oom_kill ")
	return v
}

// memAvailable is MemAvailable and MemTotal, in bytes.
func memAvailable() (avail, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, false
	}
	a, ok1 := field(b, "MemAvailable:")
	t, ok2 := field(b, "MemTotal:")
	return uint64(a) << 10, uint64(t) << 10, ok1 && ok2
}

// field is the first number after the line prefix name.
func field(b []byte, name string) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Bytes()
		if !bytes.HasPrefix(l, []byte(name)) {
			continue
		}
		f := bytes.Fields(l[len(name):])
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		return v, err == nil
	}
	return 0, false
}
