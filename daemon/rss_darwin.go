package daemon

import (
	"os/exec"
	"strconv"
	"strings"
)

// rssBytes is a process's resident set size, or 0 if unknown.
func rssBytes(pid int) int64 {
	out, err := exec.Command("/bin/ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return 0
	}
	kb, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	return kb << 10
}
