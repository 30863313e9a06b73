// Package packaging holds openclawd's service files and config skeletons,
// one copy each, embedded for `openclawd service install` and shipped by the
// .deb (nfpm.yaml) and the Homebrew formula (homebrew/openclawd.rb).
//
// The files are written with literal default paths (/usr/bin/openclawd and
// /etc/openclawd/openclawd.yaml for systemd; the /usr/local Homebrew prefix
// for launchd and macOS); the functions here substitute other paths and
// nothing else.
//
// openclawd.yaml and homebrew/openclawd.yaml are generated from
// ../openclawd.example.yaml: `go test ./packaging -run Configs -update`.
package packaging

import (
	_ "embed"
	"encoding/xml"
	"strings"
)

// Names and default paths of the installed service.
const (
	// SystemdUnitName is the unit's name, also its file name.
	SystemdUnitName = "openclawd.service"
	// LaunchdLabel is the LaunchDaemon's label; its plist is
	// /Library/LaunchDaemons/<LaunchdLabel>.plist.
	LaunchdLabel = "org.openclawd.openclawd"

	// The paths written in openclawd.service.
	DefaultBin    = "/usr/bin/openclawd"
	DefaultConfig = "/etc/openclawd/openclawd.yaml"

	// The paths written in the launchd plist and the macOS config: Homebrew's
	// prefix on Intel Macs (Apple Silicon: /opt/homebrew).
	DefaultHomebrewPrefix = "/usr/local"
	DarwinBin             = DefaultHomebrewPrefix + "/bin/openclawd"
	DarwinConfig          = DefaultHomebrewPrefix + "/etc/openclawd/openclawd.yaml"
	DarwinLogDir          = DefaultHomebrewPrefix + "/var/log/openclawd"
	DarwinStateDir        = DefaultHomebrewPrefix + "/var/openclawd"
)

var (
	//go:embed openclawd.service
	systemdUnit string
	//go:embed launchd/org.openclawd.openclawd.plist
	launchdPlist string
	//go:embed openclawd.yaml
	linuxConfig string
	//go:embed homebrew/openclawd.yaml
	darwinConfig string
)

// SystemdUnit returns the unit with bin and config in ExecStart. The unit
// keeps /var/lib/openclawd as its only writable path (ProtectSystem=strict):
// a config with another state_dir needs ReadWritePaths= extended.
func SystemdUnit(bin, config string) string {
	return strings.Replace(systemdUnit,
		"ExecStart="+DefaultBin+" run --config "+DefaultConfig,
		"ExecStart="+unitArg(bin)+" run --config "+unitArg(config), 1)
}

// unitArg quotes s for a unit's command line: % starts a specifier, and
// whitespace, quotes and backslashes need double quotes.
func unitArg(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !strings.ContainsAny(s, " \t\"'\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// LaunchdPlist returns the LaunchDaemon plist for the binary bin, the config
// file config, launchd's stdout/stderr files in logDir, and stateDir as the
// working directory and HOME.
func LaunchdPlist(bin, config, logDir, stateDir string) string {
	return strings.NewReplacer(
		DarwinBin, xmlText(bin),
		DarwinConfig, xmlText(config),
		DarwinLogDir, xmlText(logDir),
		DarwinStateDir, xmlText(stateDir),
	).Replace(launchdPlist)
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// LinuxConfig returns the production config the .deb installs as
// /etc/openclawd/openclawd.yaml: the example config with every default,
// gateway.env_file set to /etc/openclawd/gateway.env, and HTTPS off.
func LinuxConfig() string { return linuxConfig }

// DarwinConfigFile returns the macOS config for the Homebrew prefix prefix
// ("/usr/local" or "/opt/homebrew"): state, socket and env file under the
// prefix, and the _openclawd user and group.
func DarwinConfigFile(prefix string) string {
	return strings.ReplaceAll(darwinConfig, DefaultHomebrewPrefix+"/", strings.TrimSuffix(prefix, "/")+"/")
}
