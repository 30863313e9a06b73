package service

import (
	"context"
	"fmt"
	"os"

	"github.com/openclawd/openclawd/packaging"
)

// Restart restarts openclawd through launchd without waiting for it: the
// caller polls the control socket and says how far the start is (a first
// start installs the runtime for a minute or two). Homebrew's
// LaunchDaemon is restarted when Homebrew installed the binary; a plist
// that is not loaded is loaded.
func Restart(ctx context.Context) error {
	label, plist := packaging.LaunchdLabel, launchdPlist
	if bin, err := Binary(); err == nil && isHomebrew(bin) {
		label, plist = "homebrew.mxcl.openclawd", "/Library/LaunchDaemons/homebrew.mxcl.openclawd.plist"
	}
	if runTool(ctx, "launchctl", "kickstart", "-k", "system/"+label) == nil {
		return nil
	}
	if _, err := os.Stat(plist); err != nil { // not loaded, and nothing to load
		return fmt.Errorf("%s is not installed: `sudo openclawd service install` (or `sudo brew services start openclawd`)", plist)
	}
	return runTool(ctx, "launchctl", "bootstrap", "system", plist)
}
