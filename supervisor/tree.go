package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/openclawd/openclawd/internal/sockets"
)

// The gateway's tree is the gateway, its process group, its descendants
// and, with Subreaper, every descendant of this process: the kernel
// re-parents the tree's orphans (the spawn broker's setsid'd and
// double-forked processes) to this process instead of init. That every
// such descendant belongs to the gateway rests on one invariant: while a
// gateway runs, the supervisor's loop has no other child (Spec's helpers,
// such as npm, run and are waited for before the start, and their own
// orphans are killed by killAdopted before exec), and the daemon starts
// other processes only through StartExempt, which keeps them and their
// descendants out of the tree.

// tree lists the gateway's tree (see above).
func (s *Supervisor) tree(pid int) []int {
	adopter := 0
	if s.subreaper {
		adopter = os.Getpid()
	}
	pids, err := sockets.Tree(pid, adopter)
	if err != nil {
		return []int{pid}
	}
	return s.withoutExempt(pids)
}

// StartExempt starts cmd as a process of the daemon's own (a scheduled
// backup) that is not the gateway's: the tree, the orphan reaper and
// killAdopted leave it and its descendants alone. Call done after
// cmd.Wait.
func (s *Supervisor) StartExempt(cmd *exec.Cmd) (done func(), err error) {
	s.exemptMu.Lock()
	defer s.exemptMu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	if s.exempt == nil {
		s.exempt = map[int]bool{}
	}
	s.exempt[pid] = true
	return func() {
		s.exemptMu.Lock()
		delete(s.exempt, pid)
		s.exemptMu.Unlock()
	}, nil
}

// withoutExempt removes exempt processes and their descendants from pids.
func (s *Supervisor) withoutExempt(pids []int) []int {
	s.exemptMu.Lock()
	defer s.exemptMu.Unlock()
	if len(s.exempt) == 0 {
		return pids
	}
	skip := map[int]bool{}
	for p := range s.exempt {
		skip[p] = true
		if desc, err := sockets.Descendants(p); err == nil {
			for _, d := range desc {
				skip[d] = true
			}
		}
	}
	return slices.DeleteFunc(pids, func(p int) bool { return skip[p] })
}

// outsideGroup lists the tree's processes that a signal to the gateway's
// process group would miss.
func (s *Supervisor) outsideGroup(pid int) []int {
	group, _ := sockets.ProcessGroup(pid)
	return slices.DeleteFunc(s.tree(pid), func(p int) bool { return p == pid || slices.Contains(group, p) })
}

// ErrNoGateway means no gateway process runs to check.
var ErrNoGateway = errors.New("no gateway process is running")

// VerifyListener checks that every listener on the gateway's port, on
// 127.0.0.1, ::1 or any other address, is held by the gateway's tree. The
// health probes call it before they believe /startupz, before every
// WebSocket connect (which carries the token) and with each /healthz
// check. A squatter yields an error matching sockets.ErrForeignListener
// that names it.
func (s *Supervisor) VerifyListener() error {
	s.mu.Lock()
	pid := s.st.PID
	s.mu.Unlock()
	if pid == 0 {
		return ErrNoGateway
	}
	return sockets.OwnedBy(s.o.Port, s.tree(pid))
}

// ErrNotLoopback means the gateway listened beyond loopback.
var ErrNotLoopback = errors.New("gateway listens beyond loopback")

// checkLoopback verifies from the kernel's socket table that the
// gateway's tree (pids) listens on loopback only, on any port.
func checkLoopback(pids []int) error {
	// Only the gateway's own tree counts: a foreign listener that appears
	// on the port later is not the gateway's doing.
	mine, err := sockets.ListenersOf(pids)
	if err != nil {
		return fmt.Errorf("reading the socket table: %w", err)
	}
	var bad []string
	for _, l := range mine {
		if !l.Loopback() {
			bad = append(bad, l.Addr.String())
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("%w: it listened on %s, not on 127.0.0.1/::1 only, so openclawd stopped it and will not restart it. "+
		"Something overrode the loopback bind: check gateway.command and gateway.bind in the gateway's openclaw.json, then run `openclawd restart`",
		ErrNotLoopback, strings.Join(slices.Compact(bad), ", "))
}
