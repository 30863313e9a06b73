package supervisor

import "syscall"

// sysProcAttr puts the gateway in its own process group. macOS has no
// Pdeathsig: the pid file and the stale-gateway check on start cover a
// crashed openclawd.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// raiseOOMScore does nothing: macOS has no OOM score (jetsam priorities
// are launchd's).
func raiseOOMScore(int) {}
