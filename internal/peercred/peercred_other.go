//go:build !linux && !darwin

package peercred

import (
	"errors"
	"fmt"
	"net"
	"runtime"
)

// Get is not implemented on this platform.
func Get(c net.Conn) (Cred, error) {
	return Cred{}, fmt.Errorf("peercred: %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// InGroup reports whether the peer's primary gid is gid.
func (c Cred) InGroup(gid int) bool { return c.GID == gid }
