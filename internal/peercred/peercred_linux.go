package peercred

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Get returns the credentials of the peer of c, a *net.UnixConn, via
// SO_PEERCRED. A peer in a pid namespace we cannot see has PID -1.
func Get(c net.Conn) (Cred, error) {
	var cred Cred
	err := control(c, func(fd int) error {
		u, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return fmt.Errorf("peercred: getsockopt SO_PEERCRED: %w", err)
		}
		cred = Cred{UID: int(u.Uid), GID: int(u.Gid), PID: int(u.Pid)}
		if u.Pid == 0 { // the kernel's "not mappable into our pid namespace"
			cred.PID = -1
		}
		return nil
	})
	return cred, err
}

// InGroup reports whether the peer's gid or any supplementary group
// (from the "Groups:" line of /proc/<pid>/status) is gid. The supplementary
// groups are read now, not at connect time, so call it while the peer is
// still connected. Unknown or unreadable peers fail closed.
func (c Cred) InGroup(gid int) bool {
	if c.GID == gid {
		return true
	}
	if c.PID <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.PID) + "/status")
	if err != nil {
		return false
	}
	groups, ok := statusGroups(b)
	if !ok {
		return false
	}
	for _, g := range groups {
		if g == gid {
			return true
		}
	}
	return false
}

// statusGroups parses the "Groups:" line of /proc/<pid>/status.
func statusGroups(status []byte) ([]int, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var groups []int
		for _, f := range strings.Fields(rest) {
			g, err := strconv.Atoi(f)
			if err != nil {
				return nil, false
			}
			groups = append(groups, g)
		}
		return groups, true
	}
	return nil, false
}
