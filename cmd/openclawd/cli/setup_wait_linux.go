package cli

import (
	"context"
	"os/exec"
	"time"
)

// unitProbe reads the unit's state; ok is false where systemd does not run
// (containers, tests with a fake starter): then setup only polls health.
var unitProbe = func(ctx context.Context) (unitState, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemctl", "show", "openclawd", "-p", unitShowProps).Output()
	if err != nil {
		return unitState{}, false
	}
	s, err := parseUnitShow(string(out))
	return s, err == nil
}

// unitLogs is the unit's own last lines: what openclawd said before it exited.
func unitLogs(ctx context.Context) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "journalctl", "-u", "openclawd", "-n", "20", "--no-pager", "-o", "cat").CombinedOutput()
	return string(out), "fix what the lines above name (often the config: `sudo openclawd validate`), then `sudo systemctl reset-failed openclawd && sudo openclawd setup`; more: `sudo journalctl -u openclawd -n 100`"
}
