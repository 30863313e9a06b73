package cli

import (
	"context"
	"os"
	"strings"
)

// unitProbe: launchd has no restart counter to read; setup only polls
// health there.
var unitProbe = func(context.Context) (unitState, bool) { return unitState{}, false }

// launchdErrLog is where the LaunchDaemon sends openclawd's stderr.
const launchdErrLog = "/usr/local/var/log/openclawd/openclawd.err.log"

func unitLogs(context.Context) (string, string) {
	b, _ := os.ReadFile(launchdErrLog)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-20):]
	return strings.Join(lines, "\n") + "\n", "fix what the lines above name (often the config: `sudo openclawd validate`), then `sudo openclawd setup`; more in " + launchdErrLog
}
