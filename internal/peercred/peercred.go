// Package peercred reports who is on the other end of a unix socket, from
// the kernel rather than anything the peer claims, so openclawd's control
// socket can authorize local clients by uid and group.
package peercred

import (
	"fmt"
	"net"
	"syscall"
)

// Cred is the peer's identity as recorded by the kernel at connect time.
type Cred struct {
	UID, GID, PID int // PID -1 when unknown (darwin without LOCAL_PEERPID, or a peer in another pid namespace)
}

// rawConn returns the raw socket of c, which must be a *net.UnixConn:
// credentials of other socket types are meaningless or absent.
func rawConn(c net.Conn) (syscall.RawConn, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("peercred: %T is not a unix socket", c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peercred: raw conn: %w", err)
	}
	return rc, nil
}

// control runs fn on the socket's descriptor and merges both error paths.
func control(c net.Conn, fn func(fd int) error) error {
	rc, err := rawConn(c)
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("peercred: %w", err)
	}
	return ferr
}
