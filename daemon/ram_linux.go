package daemon

import "golang.org/x/sys/unix"

func totalRAMMB() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit) >> 20
}
