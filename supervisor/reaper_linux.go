package supervisor

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openclawd/openclawd/internal/sockets"
)

// setSubreaper makes this process the reaper of its descendants' orphans.
func setSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// reapAdopted waits for adopted children that have exited. It never waits
// for except (the running gateway, whose exec.Cmd does), and only for
// zombies, by pid: a blind wait would steal another child's exit status.
func (s *Supervisor) reapAdopted(except int) {
	kids, err := sockets.Children(os.Getpid())
	if err != nil {
		return
	}
	kids = s.withoutExempt(kids)
	for _, k := range kids {
		if k != except && isZombie(k) {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(k, &ws, unix.WNOHANG, nil)
		}
	}
}

// killAdopted SIGKILLs and reaps every descendant of this process; call it
// only when no gateway and no Spec helper runs (see tree.go), so all of
// them are what a gateway tree left behind. Killing an intermediate
// process re-parents its children here, so it repeats until none is left,
// for at most 5 s.
func (s *Supervisor) killAdopted() {
	if !s.subreaper {
		return
	}
	self := os.Getpid()
	deadline := time.Now().Add(5 * time.Second)
	for n := 0; ; n++ {
		desc, err := sockets.Descendants(self)
		desc = s.withoutExempt(desc)
		if err != nil || len(desc) == 0 {
			return
		}
		if n == 0 {
			s.log.Warn("killing what the gateway left behind", "pids", desc)
		}
		for _, p := range desc {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		s.reapAdopted(0)
		if time.Now().After(deadline) {
			s.log.Error("processes the gateway left behind survive SIGKILL", "pids", desc)
			return
		}
		time.Sleep(5 * time.Millisecond) // let the kernel deliver the kills
	}
}
