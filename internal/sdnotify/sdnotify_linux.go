package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends state (e.g. "READY=1", "WATCHDOG=1", "STATUS=...",
// "STOPPING=1"; several may be joined with newlines) to $NOTIFY_SOCKET. It
// reports (false, nil) when not under systemd. A leading '@' in the socket
// name selects the abstract namespace. The variable is left set because
// openclawd notifies repeatedly.
func Notify(state string) (bool, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if name[0] != '/' && name[0] != '@' {
		// systemd ≥ 256 may also pass vsock:CID:PORT, which only matters
		// for VMs; openclawd runs as a host service.
		return false, fmt.Errorf("sdnotify: unsupported NOTIFY_SOCKET %q", name)
	}
	// net maps a leading '@' to the abstract namespace's NUL byte.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sdnotify: dial %s: %w", name, err)
	}
	defer conn.Close()
	n, err := conn.Write([]byte(state))
	if err != nil {
		return false, fmt.Errorf("sdnotify: send %q to %s: %w", state, name, err)
	}
	if n != len(state) {
		return false, fmt.Errorf("sdnotify: short send to %s: %d of %d bytes", name, n, len(state))
	}
	return true, nil
}

// WatchdogInterval returns half of $WATCHDOG_USEC (only if $WATCHDOG_PID is
// unset or our pid), or 0 when no watchdog is set. Half is what
// sd_watchdog_enabled(3) recommends: a ping every interval leaves a full
// interval of slack before systemd kills us. Malformed values count as unset.
func WatchdogInterval() time.Duration {
	if p := os.Getenv("WATCHDOG_PID"); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil || pid != os.Getpid() {
			return 0
		}
	}
	usec, err := strconv.ParseUint(os.Getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 || usec > uint64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}
