package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/internal/sockets"
)

// pidFile records the running gateway's pid and start time, so a later
// openclawd can tell its own stale gateway from a reused pid.
type pidFile string

func (f pidFile) write(pid int) error {
	if f == "" {
		return nil
	}
	st, err := sockets.StartTime(pid)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(string(f)), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(string(f), []byte(fmt.Sprintf("%d %s\n", pid, st)), 0o600)
}

func (f pidFile) remove() {
	if f != "" {
		_ = os.Remove(string(f))
	}
}

// stale returns the pid of a gateway from an earlier run that is still
// alive, or 0.
func (f pidFile) stale() int {
	if f == "" {
		return 0
	}
	b, err := os.ReadFile(string(f))
	if err != nil {
		return 0
	}
	pidText, start, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 1 {
		return 0
	}
	if st, err := sockets.StartTime(pid); err != nil || st != start {
		return 0 // gone, or the pid now belongs to someone else
	}
	return pid
}

// killStale stops a gateway that is not our child: SIGTERM to its group,
// then SIGKILL after grace. It polls, since only its parent can wait for it.
func killStale(ctx context.Context, pid int, grace time.Duration) error {
	extra := descendantsOutsideGroup(pid)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(ctx, pid, grace) {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for _, p := range extra {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	if waitGone(context.Background(), pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("stale gateway pid %d survived SIGKILL", pid)
}

// waitGone polls until pid is gone, d passes, or ctx ends (then it gives
// up early, so a shutdown goes straight to SIGKILL).
func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		// A zombie (not ours to reap) still answers kill 0: check its state.
		if err := syscall.Kill(pid, 0); err != nil || isZombie(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
}

// prepare creates the pid file's directory before a start, so that a full
// or failing disk shows before the gateway runs rather than after.
func (f pidFile) prepare() error {
	if f == "" {
		return nil
	}
	return os.MkdirAll(filepath.Dir(string(f)), 0o700)
}

// descendantsOutsideGroup lists pid's descendants that left its process
// group, which a group signal would miss.
func descendantsOutsideGroup(pid int) []int {
	desc, err := sockets.Descendants(pid)
	if err != nil {
		return nil
	}
	group, _ := sockets.ProcessGroup(pid)
	return slices.DeleteFunc(desc, func(p int) bool { return slices.Contains(group, p) })
}
