package service

import "github.com/openclawd/openclawd/packaging"

// hiddenByUnit: launchd hides nothing from the service.
var hiddenByUnit []string

// launchdPlist is where a tarball install's LaunchDaemon goes.
const launchdPlist = "/Library/LaunchDaemons/" + packaging.LaunchdLabel + ".plist"

func serviceFile(bin, cfgPath, stateDir string) Unit {
	return Unit{Name: packaging.LaunchdLabel, Path: launchdPlist,
		Text: packaging.LaunchdPlist(bin, cfgPath, packaging.DarwinLogDir, stateDir)}
}
