package launch

import "golang.org/x/sys/unix"

func totalRAMMB() int64 {
	n, err := unix.SysctlUint64("hw.memsize")
	if err != nil {
		return 0
	}
	return int64(n >> 20)
}

// ServiceRAMMB is the memory openclawd's service may use, in MiB.
func ServiceRAMMB() int64 { return totalRAMMB() }
