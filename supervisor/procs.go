package supervisor

import (
	"context"
	"errors"
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

// descendantsOutsideGroup lists pid's descendants that left its process
// group, which a group signal would miss.
func descendantsOutsideGroup(pid int) []int {
	desc, err := sockets.Descendants(pid)
	if err != nil {
		return nil
	}
	group, _ := sockets.ProcessGroup(pid)
	var out []int
	for _, p := range desc {
		if !slices.Contains(group, p) {
			out = append(out, p)
		}
	}
	return out
}

// treePIDs is the gateway, its process group and its descendants.
func treePIDs(pid int) []int {
	pids := []int{pid}
	if g, err := sockets.ProcessGroup(pid); err == nil {
		pids = append(pids, g...)
	}
	if d, err := sockets.Descendants(pid); err == nil {
		pids = append(pids, d...)
	}
	slices.Sort(pids)
	return slices.Compact(pids)
}

// ErrNotLoopback means the gateway listened beyond loopback.
var ErrNotLoopback = errors.New("gateway listens beyond loopback")

// checkLoopback verifies from the kernel's socket table that the
// gateway's process tree listens on loopback only, on any port.
func checkLoopback(pid int) error {
	// Only the gateway's own tree counts: a foreign listener that appears
	// on the port later is not the gateway's doing.
	mine, err := sockets.ListenersOf(treePIDs(pid))
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
