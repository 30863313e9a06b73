package daemon

import "syscall"

// setPdeathsig makes a child die with the daemon: a step of a transaction
// must not outlive the process whose journal it serves.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
