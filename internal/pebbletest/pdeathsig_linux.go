package pebbletest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills c with the test process, even after a panic.
func setPdeathsig(c *exec.Cmd) { c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
