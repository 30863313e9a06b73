package sockets

import (
	"errors"
	"fmt"
	"net/netip"
	"os/user"
	"slices"
	"strconv"
	"strings"
)

// ErrForeignListener is matched (errors.Is) by a *ForeignListenerError: a
// process outside the given set listens on the port.
var ErrForeignListener = errors.New("a process outside the gateway listens on its port")

// ErrNoListener means nothing listens on the port at all.
var ErrNoListener = errors.New("nothing listens on the port")

// Holder is a process that holds a socket.
type Holder struct {
	PID     int
	Command string // the kernel's short name; "" if it exited meanwhile
}

// Foreign is one listener on the port that none of the trusted pids holds.
type Foreign struct {
	Addr  netip.AddrPort
	Inode uint64 // 0 on darwin
	UID   int    // owner from the socket table; -1 when unknown
	// Holders are the processes found holding it. Empty when their fd
	// tables are not readable to us: a squatter of another uid is then
	// named by UID and Inode only.
	Holders []Holder
}

func (f Foreign) String() string {
	if len(f.Holders) > 0 {
		parts := make([]string, 0, len(f.Holders))
		for _, h := range f.Holders {
			parts = append(parts, fmt.Sprintf("pid %d (%s)", h.PID, h.Command))
		}
		return strings.Join(parts, ", ") + " on " + f.Addr.String()
	}
	who := "a process openclawd cannot identify"
	if f.UID >= 0 {
		who = "a process of uid " + strconv.Itoa(f.UID)
		if u, err := user.LookupId(strconv.Itoa(f.UID)); err == nil {
			who += " (" + u.Username + ")"
		}
	}
	if f.Inode != 0 {
		who += fmt.Sprintf(" (socket inode %d)", f.Inode)
	}
	return who + " on " + f.Addr.String()
}

// ForeignListenerError lists every listener on Port that the trusted pids
// do not hold.
type ForeignListenerError struct {
	Port    int
	Foreign []Foreign
}

func (e *ForeignListenerError) Error() string {
	parts := make([]string, 0, len(e.Foreign))
	for _, f := range e.Foreign {
		parts = append(parts, f.String())
	}
	return fmt.Sprintf("port %d is also held by %s, which is not the gateway", e.Port, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrForeignListener) true.
func (e *ForeignListenerError) Is(target error) bool { return target == ErrForeignListener }

// OwnedBy verifies that every TCP listener on port, on any address, is
// held by one of pids. Ownership is decided positively, from the fd tables
// of pids (which the caller can read: they are its own uid), never from
// the absence of another holder, whose fd table may be unreadable.
//
// It returns nil when pids hold every listener, an error matching
// ErrNoListener when nothing listens, and a *ForeignListenerError naming
// each other listener by pid and command where the caller can see them,
// else by uid and socket inode.
func OwnedBy(port int, pids []int) error {
	ls, err := listenersOn(port, pids)
	if err != nil {
		return err
	}
	if len(ls) == 0 {
		return fmt.Errorf("%w: port %d", ErrNoListener, port)
	}
	foreign := slices.DeleteFunc(ls, func(l Listener) bool { return len(l.PIDs) > 0 })
	if len(foreign) == 0 {
		return nil
	}
	identify(foreign) // best effort: fills PIDs from every readable fd table
	e := &ForeignListenerError{Port: port}
	for _, l := range foreign {
		f := Foreign{Addr: l.Addr, Inode: l.Inode, UID: l.UID}
		for _, p := range l.PIDs {
			f.Holders = append(f.Holders, Holder{PID: p, Command: ProcessName(p)})
		}
		e.Foreign = append(e.Foreign, f)
	}
	return e
}
