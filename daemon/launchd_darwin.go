package daemon

import "os"

// underLaunchd: launchd names every job it runs in XPC_SERVICE_NAME; a
// shell in Terminal has it unset or "0".
func underLaunchd() bool {
	v := os.Getenv("XPC_SERVICE_NAME")
	return v != "" && v != "0"
}
