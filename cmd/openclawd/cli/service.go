package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kardianos/service"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/config/edit"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/packaging"
)

// host is what the service commands look at on this machine; tests point
// it elsewhere.
var host = struct {
	exe        func() (string, error) // the running binary
	dpkgList   string                 // present when the .deb is installed
	systemdDir string                 // present when systemd runs the host
	hidden     []string               // what the unit hides from the service
}{os.Executable, "/var/lib/dpkg/info/openclawd.list", "/run/systemd/system",
	// ProtectHome=yes and PrivateTmp=yes in packaging/openclawd.service.
	[]string{"/home", "/root", "/run/user", "/tmp", "/var/tmp"}}

// binary is the running openclawd with symlinks resolved: the unit must
// name the real file, not a link a later install may repoint.
func binary() (string, error) {
	p, err := host.exe()
	if err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		return "", fmt.Errorf("finding the openclawd binary: %w", err)
	}
	return filepath.Abs(p)
}

// packageOwner names the package manager that installed bin, with the
// commands to use instead, or "" for a tarball install.
func packageOwner(bin string) string {
	if isHomebrew(bin) {
		return "openclawd is installed by Homebrew, which owns the service: use `sudo brew services start openclawd` (or stop, info)"
	}
	if _, err := os.Stat(host.dpkgList); err == nil {
		return "openclawd is installed by the openclawd .deb, which owns the service: use `sudo systemctl enable --now openclawd`, `systemctl status openclawd`, `sudo systemctl stop openclawd`"
	}
	return ""
}

func isHomebrew(bin string) bool { return strings.Contains(bin, "/Cellar/") }

// program satisfies kardianos' Interface; only `openclawd run` runs the
// service, so it is never started here.
type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

// unit is our systemd unit or launchd plist, where it goes, and its name.
type unit struct {
	path, text, name string
}

// darwinLogDir receives launchd's stdout and stderr of a tarball install.
const darwinLogDir = packaging.DarwinLogDir

// renderUnit renders our own service file from package packaging.
func renderUnit(bin, cfgPath, stateDir string) (unit, error) {
	u := unit{name: "openclawd", path: "/etc/systemd/system/" + packaging.SystemdUnitName}
	if runtime.GOOS == "darwin" {
		u = unit{name: packaging.LaunchdLabel, path: "/Library/LaunchDaemons/" + packaging.LaunchdLabel + ".plist",
			text: packaging.LaunchdPlist(bin, cfgPath, darwinLogDir, stateDir)}
	} else {
		u.text = packaging.SystemdUnit(bin, cfgPath)
	}
	// kardianos renders the text with its own engine: without "{{" it
	// passes through unchanged; with one (from a path) it would be mangled.
	if strings.Contains(u.text, "{{") {
		return u, fmt.Errorf("the service file would contain %q (from the binary or config path), which kardianos/service cannot write literally", "{{")
	}
	return u, nil
}

func newService(bin, cfgPath string, u unit) (service.Service, error) {
	return service.New(program{}, &service.Config{
		Name:        u.name,
		DisplayName: "openclawd",
		Description: "OpenClaw gateway supervisor (openclawd)",
		Executable:  bin,
		Arguments:   []string{"run", "--config", cfgPath},
		Option:      service.KeyValue{"SystemdScript": u.text, "LaunchdConfig": u.text},
	})
}

// managedPlatform refuses hosts without systemd or launchd running: there
// (containers, systemd not PID 1) kardianos silently picks SysV and would
// write /etc/init.d/openclawd.
func managedPlatform() error {
	switch p := service.Platform(); p {
	case "linux-systemd", "darwin-launchd":
		return nil
	default:
		return fmt.Errorf("no systemd or launchd runs this host (kardianos/service found %s), and `openclawd service` works with those only; run `openclawd run --config FILE` under the host's own supervisor instead", p)
	}
}

func serviceCmd(args []string, stdout, stderr io.Writer) int {
	const verbs = "install|uninstall|start|stop|status"
	if len(args) == 0 || !strings.Contains("|"+verbs+"|", "|"+args[0]+"|") {
		fmt.Fprintf(stderr, "usage: openclawd service %s [--config PATH] [--purge]\n", verbs)
		return ExitUsage
	}
	verb := args[0]
	fs := newFlags("service "+verb, stderr)
	cfgPath := fs.String("config", config.DefaultPath, "the config file the service runs with")
	purge := new(bool)
	if verb == "uninstall" {
		purge = fs.Bool("purge", false, "also remove the config file, the env file and the state dir")
	}
	if rc := parse(fs, args[1:]); rc >= 0 {
		return rc
	}
	if abs, err := filepath.Abs(*cfgPath); err == nil {
		*cfgPath = abs
	}
	bin, err := binary()
	if err != nil {
		return failf(stderr, "%v", err)
	}
	if err := managedPlatform(); err != nil {
		return failf(stderr, "%v", err)
	}
	if owner := packageOwner(bin); owner != "" {
		return failf(stderr, "%s", owner)
	}
	if verb != "status" && os.Geteuid() != 0 {
		return failf(stderr, "`openclawd service %s` needs root: sudo openclawd service %s", verb, verb)
	}
	stateDir := config.Default().StateDir
	if c, err := config.Load(*cfgPath); err == nil {
		stateDir = c.StateDir
	}
	u, err := renderUnit(bin, *cfgPath, stateDir)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	s, err := newService(bin, *cfgPath, u)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	switch verb {
	case "install":
		return serviceInstall(s, bin, *cfgPath, stdout, stderr)
	case "uninstall":
		return serviceUninstall(s, u, *cfgPath, *purge, stdout, stderr)
	case "start":
		fmt.Fprintln(stdout, "starting openclawd (a first start installs Node.js and openclaw: a minute or two)")
		if err := s.Start(); err != nil {
			return failf(stderr, "starting the service: %v", err)
		}
		fmt.Fprintln(stdout, "started; `openclawd status` says how the gateway is")
	case "stop":
		if err := s.Stop(); err != nil {
			return failf(stderr, "stopping the service: %v", err)
		}
		fmt.Fprintln(stdout, "stopped")
	case "status":
		st, err := s.Status()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintf(stdout, "not installed (no %s): `sudo openclawd service install`\n", u.path)
			return ExitUnknown
		case err != nil:
			return failf(stderr, "asking the service manager: %v", err)
		case st == service.StatusRunning:
			fmt.Fprintf(stdout, "running (%s); `openclawd status` says how the gateway is\n", u.path)
		default:
			fmt.Fprintf(stdout, "stopped (%s): `sudo openclawd service start`\n", u.path)
			return ExitNotRunning
		}
	}
	return ExitOK
}

func failf(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "openclawd: "+format+"\n", a...)
	return ExitFailure
}

// serviceCanReach refuses a binary or config the service could not open:
// the unit hides some trees (Linux), and the service user needs search
// permission on every directory above path.
func serviceCanReach(path string, acct account) error {
	if runtime.GOOS == "linux" {
		for _, h := range host.hidden {
			if path == h || strings.HasPrefix(path, h+"/") {
				return fmt.Errorf("%s is under %s, which the unit hides from the service (ProtectHome=yes, PrivateTmp=yes)", path, h)
			}
		}
	}
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		_, gid := owner(fi)
		if p := fi.Mode().Perm(); p&0o001 == 0 && (p&0o010 == 0 || acct.gid < 0 || gid != acct.gid) {
			return fmt.Errorf("the %s user cannot reach %s: %s is mode %04o", serviceUser, path, d, p)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// serviceInstall prepares what the unit needs (user, config, env file,
// state dir), then writes and enables the unit. It is safe to repeat.
func serviceInstall(s service.Service, bin, cfgPath string, stdout, stderr io.Writer) int {
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o001 == 0 {
		err = errors.Join(err, fmt.Errorf("%s is not executable by others", bin))
		return failf(stderr, "%v\ninstall it where the service can run it: sudo install -m 0755 %s /usr/local/bin/openclawd && sudo /usr/local/bin/openclawd service install", err, bin)
	}
	if err := serviceCanReach(bin, serviceAccount()); err != nil {
		return failf(stderr, "%v\ninstall it where the service can run it: sudo install -m 0755 %s /usr/local/bin/openclawd && sudo /usr/local/bin/openclawd service install", err, bin)
	}
	if err := ensureServiceGroup(); err != nil {
		return failf(stderr, "%v", err)
	}
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		if err := writeDefaultConfig(cfgPath); err != nil {
			return failf(stderr, "writing %s: %v", cfgPath, err)
		}
		fmt.Fprintf(stdout, "wrote the default config to %s\n", cfgPath)
	}
	cfg, rc := loadConfig(cfgPath, stderr)
	if cfg == nil {
		return rc
	}
	if err := ensureServiceUser(cfg.StateDir); err != nil {
		return failf(stderr, "%v", err)
	}
	acct := serviceAccount()
	if err := serviceCanReach(cfgPath, acct); err != nil {
		return failf(stderr, "%v\nkeep the config where the service can read it: %s (the default)", err, config.DefaultPath)
	}
	if f := cfg.Gateway.EnvFile; f != "" {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			if err := fsutil.WriteFileAtomicOwned(f, []byte(envFileHeader), 0o600, acct.uid, acct.gid); err != nil {
				return failf(stderr, "writing %s: %v", f, err)
			}
			fmt.Fprintf(stdout, "wrote %s for API keys (0600, owned by %s)\n", f, serviceUser)
		}
	}
	dirs := []string{cfg.StateDir}
	if runtime.GOOS == "darwin" { // launchd creates neither, unlike systemd
		dirs = append(dirs, darwinLogDir, filepath.Dir(cfg.Control.Socket))
	}
	for _, d := range dirs {
		if err := ensureOwnedDir(d, 0o700, acct); err != nil {
			return failf(stderr, "%v", err)
		}
	}
	// Re-rendered: the state dir may only now be known.
	u, err := renderUnit(bin, cfgPath, cfg.StateDir)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	if s, err = newService(bin, cfgPath, u); err != nil {
		return failf(stderr, "%v", err)
	}
	old, err := os.ReadFile(u.path)
	switch {
	case err == nil && bytes.Equal(old, []byte(u.text)):
		fmt.Fprintf(stdout, "%s is installed already (unchanged)\n", u.path)
	case err == nil: // from an older openclawd, or the binary moved
		if err := os.Remove(u.path); err != nil {
			return failf(stderr, "replacing %s: %v", u.path, err)
		}
		if err := s.Install(); err != nil {
			return failf(stderr, "installing the service: %v", err)
		}
		fmt.Fprintf(stdout, "updated %s (runs %s)\n", u.path, bin)
	default:
		if err := s.Install(); err != nil {
			return failf(stderr, "installing the service: %v", err)
		}
		fmt.Fprintf(stdout, "installed %s (runs %s run --config %s); it starts at boot\n", u.path, bin, cfgPath)
	}
	if runtime.GOOS == "linux" && filepath.Clean(cfg.StateDir) != config.Default().StateDir {
		fmt.Fprintf(stdout, "warning: the unit lets openclawd write only to %s (ProtectSystem=strict); for state_dir %s run `sudo systemctl edit openclawd` and add [Service] ReadWritePaths=%s\n",
			config.Default().StateDir, cfg.StateDir, cfg.StateDir)
	}
	fmt.Fprintf(stdout, "next: sudo openclawd setup --config %s\n", cfgPath)
	return ExitOK
}

func serviceUninstall(s service.Service, u unit, cfgPath string, purge bool, stdout, stderr io.Writer) int {
	if _, err := os.Stat(u.path); err == nil {
		// kardianos' systemd Uninstall only disables: stop first. A service
		// that is not running fails to stop, which is fine.
		if err := s.Stop(); err == nil {
			fmt.Fprintln(stdout, "stopped openclawd")
		}
		if err := s.Uninstall(); err != nil {
			return failf(stderr, "uninstalling the service: %v", err)
		}
		fmt.Fprintf(stdout, "removed %s\n", u.path)
	} else {
		fmt.Fprintf(stdout, "the service is not installed (no %s)\n", u.path)
	}
	if !purge {
		fmt.Fprintf(stdout, "kept %s, its env file and the state dir; `--purge` removes them\n", cfgPath)
		return ExitOK
	}
	cfg, err := config.Load(cfgPath)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "no %s: nothing else to remove\n", cfgPath)
		return ExitOK
	}
	if err != nil {
		return failf(stderr, "not purging: %s is invalid, so the state dir is unknown:\n%v", cfgPath, err)
	}
	if clean := filepath.Clean(cfg.StateDir); strings.Count(clean, "/") < 2 {
		return failf(stderr, "not purging state_dir %s: too close to /; remove it by hand", cfg.StateDir)
	}
	for _, p := range []string{cfg.StateDir, cfg.Gateway.EnvFile, cfgPath} {
		if p == "" {
			continue
		}
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := fsutil.RemoveAll(p); err != nil {
			return failf(stderr, "removing %s: %v", p, err)
		}
		fmt.Fprintf(stdout, "removed %s\n", p)
	}
	_ = os.Remove(filepath.Dir(cfgPath)) // only if empty
	fmt.Fprintf(stdout, "the %s user is kept (it may own files elsewhere)\n", serviceUser)
	return ExitOK
}

// envFileHeader starts an env file openclawd creates.
const envFileHeader = `# Secrets for the OpenClaw gateway, one KEY=VALUE a line (API keys, bot
# tokens). openclawd refuses this file unless it is mode 0600.
# ` + "`sudo openclawd setup --env NAME`" + ` adds one without it showing up in ps;
# changes apply at the next gateway start (` + "`sudo openclawd restart`" + `).
`

// writeDefaultConfig writes the packaged config, with the env file beside
// it, root:<service group> 0640 as the .deb ships it.
func writeDefaultConfig(path string) error {
	text := packaging.LinuxConfig()
	if runtime.GOOS == "darwin" {
		text = packaging.DarwinConfigFile(packaging.DefaultHomebrewPrefix)
	}
	b, _, err := edit.Apply([]byte(text), edit.Edit{Key: "gateway.env_file", Value: filepath.Join(filepath.Dir(path), "gateway.env")})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomicOwned(path, b, 0o640, 0, serviceAccount().gid)
}

// ensureOwnedDir creates dir (mode) owned by acct; an existing one is left
// as it is.
func ensureOwnedDir(dir string, mode os.FileMode, acct account) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil { // umask
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := acct.chown(dir); err != nil {
		return fmt.Errorf("handing %s to %s: %w", dir, serviceUser, err)
	}
	return nil
}
