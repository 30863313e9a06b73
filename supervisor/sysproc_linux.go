package supervisor

import "syscall"

// sysProcAttr puts the gateway in its own process group, so one signal
// reaches it and its workers, and has the kernel kill it if openclawd dies
// (Pdeathsig follows the forking thread: best effort, the pid file and the
// stale-gateway check on start are the backstop).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
