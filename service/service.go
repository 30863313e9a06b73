// Package service is openclawd's side of the host's service manager
// (systemd or launchd), for `openclawd service` on installs without a
// package and for `openclawd setup`'s restart: where the running binary is
// and which package manager owns it, the unit or plist (package
// packaging's text, written through kardianos/service), creating the
// service account, and restarting the service with systemctl or
// launchctl. Everything but asking whether the service runs needs root.
// The CLI decides what to do and prints what happened; nothing here
// touches the state dir (package statedir does, through descriptors).
package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/openclawd/openclawd/internal/account"

	ksvc "github.com/kardianos/service"
)

// Probes is what the package looks at on this machine.
type Probes struct {
	Exe        func() (string, error) // the running binary
	DpkgList   string                 // present when the .deb is installed
	SystemdDir string                 // present when systemd runs the host
	Hidden     []string               // trees the unit hides from the service
}

// Host is this machine's probes; tests point them elsewhere.
var Host = Probes{
	Exe:        os.Executable,
	DpkgList:   "/var/lib/dpkg/info/openclawd.list",
	SystemdDir: "/run/systemd/system",
	Hidden:     hiddenByUnit,
}

// ErrNoServiceManager: neither systemd nor launchd runs this host.
var ErrNoServiceManager = errors.New("no service manager")

// Binary is the running openclawd with symlinks resolved: the unit must
// name the real file, not a link a later install may repoint.
func Binary() (string, error) {
	p, err := Host.Exe()
	if err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		return "", fmt.Errorf("finding the openclawd binary: %w", err)
	}
	return filepath.Abs(p)
}

// PackageOwner names the package manager that installed bin, with the
// commands to use instead of `openclawd service`, or "" for a tarball
// install.
func PackageOwner(bin string) string {
	if isHomebrew(bin) {
		return "openclawd is installed by Homebrew, which owns the service: use `sudo brew services start openclawd` (or stop, info)"
	}
	if _, err := os.Stat(Host.DpkgList); err == nil {
		return "openclawd is installed by the openclawd .deb, which owns the service: use `sudo systemctl enable --now openclawd`, `systemctl status openclawd`, `sudo systemctl stop openclawd`"
	}
	return ""
}

func isHomebrew(bin string) bool { return strings.Contains(bin, "/Cellar/") }

// Managed refuses hosts without systemd or launchd running: there
// (containers, systemd not PID 1) kardianos silently picks SysV and would
// write /etc/init.d/openclawd.
func Managed() error {
	switch p := ksvc.Platform(); p {
	case "linux-systemd", "darwin-launchd":
		return nil
	default:
		return fmt.Errorf("no systemd or launchd runs this host (kardianos/service found %s), and `openclawd service` works with those only; run `openclawd run --config FILE` under the host's own supervisor instead", p)
	}
}

// CanReach refuses a binary or config the service could not open: the
// unit hides some trees (Linux), and the service user (name, uid, gid; -1
// when it does not exist yet) needs search permission on every directory
// above path.
func CanReach(path string, uid, gid int, name string) error {
	for _, h := range Host.Hidden {
		if path == h || strings.HasPrefix(path, h+"/") {
			return fmt.Errorf("%s is under %s, which the unit hides from the service (ProtectHome=yes, PrivateTmp=yes)", path, h)
		}
	}
	d, mode, err := account.Account{Name: name, UID: uid, GID: gid}.Blocker(path)
	if err != nil {
		return err
	}
	if d != "" {
		return fmt.Errorf("the %s user cannot reach %s: %s is mode %04o", name, path, d, mode)
	}
	return nil
}

// runTool runs a system tool, its output in the error.
func runTool(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
