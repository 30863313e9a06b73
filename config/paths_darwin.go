package config

import "os"

// defaultSocket: macOS has no /run; launchd daemons use /var/run.
const defaultSocket = "/var/run/openclawd/openclawd.sock"

// defaultPath prefers the config the Homebrew formula installs (Apple
// Silicon prefix, then Intel), else /etc as `openclawd service install`
// writes it on a Mac without Homebrew.
func defaultPath() string {
	for _, p := range []string{"/opt/homebrew/etc/openclawd/openclawd.yaml", "/usr/local/etc/openclawd/openclawd.yaml"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return etcPath
}

// defaultUser is the service account the packages create (macOS daemon accounts start with an underscore).
const defaultUser = "_openclawd"
