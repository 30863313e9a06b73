// Package sockets answers "who listens on what" from the kernel's socket
// table, so openclawd can verify that the supervised gateway listens on
// loopback only instead of trusting its configuration.
//
// On Linux it reads /proc (the socket table of the caller's network
// namespace). On macOS it asks lsof and sysctl; the darwin code is compiled
// and vetted but not exercised by the tests here.
package sockets

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Listener is one listening TCP socket.
type Listener struct {
	Addr  netip.AddrPort // local address as the kernel reports it (v4-mapped v6 is kept)
	Inode uint64         // linux socket inode (0 on darwin)
	UID   int            // owner uid from the socket table (-1 where unknown: darwin)
	PIDs  []int          // processes holding it, ascending (may be empty if unknown)
}

// Loopback reports whether the listener is reachable only from this host.
// A v4-mapped address (::ffff:127.0.0.1) counts as its IPv4 form, and the
// unspecified addresses (0.0.0.0, ::) are not loopback.
func (l Listener) Loopback() bool {
	return l.Addr.Addr().Unmap().IsLoopback()
}

// sortListeners gives callers a deterministic order: port, address, inode.
func sortListeners(ls []Listener) {
	slices.SortFunc(ls, func(a, b Listener) int {
		return cmp.Or(
			cmp.Compare(a.Addr.Port(), b.Addr.Port()),
			a.Addr.Addr().Compare(b.Addr.Addr()),
			cmp.Compare(a.Inode, b.Inode),
		)
	})
}

// proc is the slice of process metadata the process-tree helpers need.
type proc struct {
	pid, ppid, pgid int
}

// inGroup returns the pids of procs whose process group is pgid.
func inGroup(procs []proc, pgid int) []int {
	var out []int
	for _, p := range procs {
		if p.pgid == pgid {
			out = append(out, p.pid)
		}
	}
	slices.Sort(out)
	return out
}

// descendantsOf walks the parent links from root downwards. root itself is
// not included. The seen set guards against pid-reuse cycles in a snapshot
// taken while processes come and go.
func descendantsOf(procs []proc, root int) []int {
	children := make(map[int][]int)
	for _, p := range procs {
		if p.pid != p.ppid {
			children[p.ppid] = append(children[p.ppid], p.pid)
		}
	}
	var out []int
	seen := map[int]bool{root: true}
	queue := []int{root}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ProcessGroup lists the pids whose process group is pgid, ascending.
// Processes that called setsid (like the gateway's spawn broker) leave the
// group; use Descendants to follow them.
func ProcessGroup(pgid int) ([]int, error) {
	procs, err := listProcs()
	if err != nil {
		return nil, err
	}
	return inGroup(procs, pgid), nil
}

// Descendants lists the children of pid, recursively, ascending. pid itself
// is not included. Orphans re-parented to init or a subreaper are lost.
func Descendants(pid int) ([]int, error) {
	procs, err := listProcs()
	if err != nil {
		return nil, err
	}
	return descendantsOf(procs, pid), nil
}

// Tree lists pid, the members of its process group, its descendants and,
// when adopter > 0, every descendant of adopter: a child subreaper (the
// supervisor) inherits the orphans of the tree, which left pid's ancestry
// but not the tree. Ascending, one snapshot of the process table.
func Tree(pid, adopter int) ([]int, error) {
	procs, err := listProcs()
	if err != nil {
		return nil, err
	}
	out := append([]int{pid}, inGroup(procs, pid)...)
	out = append(out, descendantsOf(procs, pid)...)
	if adopter > 0 {
		out = append(out, descendantsOf(procs, adopter)...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Children lists the processes whose parent is pid, ascending.
func Children(pid int) ([]int, error) {
	procs, err := listProcs()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, p := range procs {
		if p.ppid == pid && p.pid != pid {
			out = append(out, p.pid)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Describe names who holds a port: "pid 1234 (nginx) on 0.0.0.0:18789",
// or "a process of uid 0 (root) on …" when its fds are not readable.
func Describe(ls []Listener) string {
	var parts []string
	for _, l := range ls {
		if len(l.PIDs) == 0 { // not ours to see: name its uid at least
			parts = append(parts, Foreign{Addr: l.Addr, UID: l.UID}.String())
			continue
		}
		for _, p := range l.PIDs {
			parts = append(parts, fmt.Sprintf("pid %d (%s) on %s", p, ProcessName(p), l.Addr))
		}
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), ", ")
}
