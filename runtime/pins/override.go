package pins

import (
	"encoding/json"
	"io/fs"
	"strings"
)

// override, set with -ldflags "-X github.com/openclawd/openclawd/runtime/pins.override=VERSION INTEGRITY",
// builds an openclawd that pins another openclaw than the generated pins:
// the system tests build the previous openclawd this way, to test a
// package upgrade that brings new pins. Empty in every release build.
var override string

// Openclaw is the openclaw this binary pins: its version, its tarball's
// integrity, and the package.json and package-lock.json `npm ci` installs
// it from (nil when the build overrides the pin: npm then resolves the
// lock at install time, and the integrity is checked against it).
func Openclaw() (version, integrity string, lock fs.FS) {
	if v, i, ok := strings.Cut(strings.TrimSpace(override), " "); ok {
		return v, strings.TrimSpace(i), nil
	}
	lock, err := fs.Sub(OpenclawFiles, "openclaw")
	if err != nil || lockVersion(lock) != OpenclawVersion {
		lock = nil
	}
	return OpenclawVersion, OpenclawIntegrity, lock
}

// lockVersion is the openclaw version the embedded package.json asks for.
func lockVersion(lock fs.FS) string {
	b, err := fs.ReadFile(lock, "package.json")
	if err != nil {
		return ""
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	return pkg.Dependencies["openclaw"]
}
