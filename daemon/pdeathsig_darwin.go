package daemon

import "syscall"

// setPdeathsig: macOS has no Pdeathsig; a step that outlives a killed
// daemon finishes into a temporary directory the next one removes.
func setPdeathsig(*syscall.SysProcAttr) {}
