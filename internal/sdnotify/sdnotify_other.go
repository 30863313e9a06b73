//go:build !linux

package sdnotify

import "time"

// Notify is a no-op off Linux (launchd has no readiness protocol); it
// always reports (false, nil).
func Notify(state string) (bool, error) { return false, nil }

// WatchdogInterval is always 0 off Linux.
func WatchdogInterval() time.Duration { return 0 }
