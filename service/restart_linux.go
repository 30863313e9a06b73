package service

import (
	"context"
	"fmt"
	"os"

	"github.com/openclawd/openclawd/packaging"
)

// Restart restarts openclawd through systemd without waiting for it: the
// caller polls the control socket and says how far the start is (a first
// start installs the runtime for a minute or two). ErrNoServiceManager
// when systemd does not run this host.
func Restart(ctx context.Context) error {
	if _, err := os.Stat(Host.SystemdDir); err != nil {
		return ErrNoServiceManager
	}
	// After a bad config, systemd may have given up (StartLimitBurst).
	_ = runTool(ctx, "systemctl", "reset-failed", packaging.SystemdUnitName)
	if err := runTool(ctx, "systemctl", "restart", "--no-block", packaging.SystemdUnitName); err != nil {
		return fmt.Errorf("%w\n(is the service installed? `sudo openclawd service install`)", err)
	}
	return nil
}
