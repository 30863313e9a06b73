package peercred

// Untested here: compiled and vetted for darwin, exercised only on Linux.

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// xucredVersion is XUCRED_VERSION from <sys/ucred.h>; x/sys lacks it.
const xucredVersion = 0

// Get returns the credentials of the peer of c, a *net.UnixConn, via
// LOCAL_PEERCRED (uid and groups) and LOCAL_PEERPID (macOS 10.8+; PID -1
// if it fails).
func Get(c net.Conn) (Cred, error) {
	var cred Cred
	err := control(c, func(fd int) error {
		x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return fmt.Errorf("peercred: getsockopt LOCAL_PEERCRED: %w", err)
		}
		if x.Version != xucredVersion || x.Ngroups < 1 {
			return fmt.Errorf("peercred: unexpected xucred (version %d, %d groups)", x.Version, x.Ngroups)
		}
		// cr_groups[0] is the effective gid.
		cred = Cred{UID: int(x.Uid), GID: int(x.Groups[0]), PID: -1}
		if pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil && pid > 0 {
			cred.PID = pid
		}
		return nil
	})
	return cred, err
}

// InGroup reports whether the peer's gid or any of its (at most 16)
// supplementary groups, read from the kernel's process table now, is gid.
// macOS resolves group membership dynamically through opendirectoryd, so
// this sees only the groups set on the process. Unknown peers fail closed.
func (c Cred) InGroup(gid int) bool {
	if c.GID == gid {
		return true
	}
	if c.PID <= 0 {
		return false
	}
	k, err := unix.SysctlKinfoProc("kern.proc.pid", c.PID)
	if err != nil || int(k.Proc.P_pid) != c.PID {
		return false
	}
	u := k.Eproc.Ucred
	for i := 0; i < int(u.Ngroups) && i < len(u.Groups); i++ {
		if int(u.Groups[i]) == gid {
			return true
		}
	}
	return false
}
