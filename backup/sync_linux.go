package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncTree writes everything below dir to disk: one syncfs(2) for the
// filesystem it is on.
func syncTree(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
