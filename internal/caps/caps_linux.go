package caps

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// start clears the ambient set on one locked OS thread and forks from it:
// capabilities are per thread, and the child inherits the forking
// thread's. Clearing every thread (AllThreadsSyscall) is refused in cgo
// builds. The thread keeps its effective set and may serve others after.
func start(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities before starting %s: %w", cmd.Path, err)
	}
	return cmd.Start()
}
