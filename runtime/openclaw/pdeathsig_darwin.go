package openclaw

import "syscall"

// setPdeathsig: macOS has no Pdeathsig; the next install removes what a
// killed one left.
func setPdeathsig(*syscall.SysProcAttr) {}
