package service

import "github.com/openclawd/openclawd/packaging"

// hiddenByUnit: ProtectHome=yes and PrivateTmp=yes in
// packaging/openclawd.service.
var hiddenByUnit = []string{"/home", "/root", "/run/user", "/tmp", "/var/tmp"}

func serviceFile(bin, cfgPath, _ string) Unit {
	return Unit{Name: "openclawd", Path: "/etc/systemd/system/" + packaging.SystemdUnitName,
		Text: packaging.SystemdUnit(bin, cfgPath)}
}
