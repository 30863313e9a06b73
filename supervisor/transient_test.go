package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
	"testing"
)

func TestTransient(t *testing.T) {
	wrap := func(e error) error {
		return fmt.Errorf("preparing: %w", &fs.PathError{Op: "write", Path: "/x", Err: e})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"ENOSPC wrapped", wrap(syscall.ENOSPC), true},
		{"EDQUOT", wrap(syscall.EDQUOT), true},
		{"EIO", wrap(syscall.EIO), true},
		{"ENOMEM", syscall.ENOMEM, true},
		{"EMFILE", wrap(syscall.EMFILE), true},
		{"ENFILE", wrap(syscall.ENFILE), true},
		{"EAGAIN", wrap(syscall.EAGAIN), true},
		{"EBUSY", wrap(syscall.EBUSY), true},
		{"EINTR", wrap(syscall.EINTR), true},
		{"marked Transient", fmt.Errorf("download: %w", Transient(errors.New("connection reset"))), true},
		{"joined with a transient cause", errors.Join(errors.New("x"), wrap(syscall.ENOSPC)), true},
		{"validation error", errors.New("gateway.port: expected a number"), false},
		{"permission denied", wrap(syscall.EACCES), false},
		{"missing file", wrap(syscall.ENOENT), false},
		{"exec not found", exec.ErrNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(tc.err); got != tc.want {
				t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
