//go:build !linux

package caps

import "os/exec"

// start: ambient capabilities are a Linux feature.
func start(cmd *exec.Cmd) error { return cmd.Start() }
