package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/config/edit"
	svcuser "github.com/openclawd/openclawd/internal/account"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/packaging"
	"github.com/openclawd/openclawd/service"
	"github.com/openclawd/openclawd/statedir"
)

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
	bin, err := service.Binary()
	if err != nil {
		return failf(stderr, "%v", err)
	}
	if err := service.Managed(); err != nil {
		return failf(stderr, "%v", err)
	}
	if owner := service.PackageOwner(bin); owner != "" {
		return failf(stderr, "%s", owner)
	}
	if verb != "status" && os.Geteuid() != 0 {
		return failf(stderr, "`openclawd service %s` needs root: sudo openclawd service %s", verb, verb)
	}
	// Without a config yet, the packaged one's (written by install).
	cur := config.Default()
	if c, err := config.Load(*cfgPath); err == nil {
		cur = c
	}
	u, err := service.Render(bin, *cfgPath, cur.StateDir)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	s, err := service.New(bin, *cfgPath, u)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	switch verb {
	case "install":
		return serviceInstall(bin, *cfgPath, cur.User, stdout, stderr)
	case "uninstall":
		return serviceUninstall(s, *cfgPath, *purge, stdout, stderr)
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
		running, err := s.Running()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintf(stdout, "not installed (no %s): `sudo openclawd service install`\n", u.Path)
			return ExitUnknown
		case err != nil:
			return failf(stderr, "asking the service manager: %v", err)
		case running:
			fmt.Fprintf(stdout, "running (%s); `openclawd status` says how the gateway is\n", u.Path)
		default:
			fmt.Fprintf(stdout, "stopped (%s): `sudo openclawd service start`\n", u.Path)
			return ExitNotRunning
		}
	}
	return ExitOK
}

func failf(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "openclawd: "+format+"\n", a...)
	return ExitFailure
}

// serviceInstall prepares what the unit needs (the service user named by
// the config's user, the config, env file and state dir), then writes and
// enables the unit. It is safe to repeat.
func serviceInstall(bin, cfgPath, name string, stdout, stderr io.Writer) int {
	moveBin := fmt.Sprintf("install it where the service can run it: sudo install -m 0755 %s /usr/local/bin/openclawd && sudo /usr/local/bin/openclawd service install", bin)
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o001 == 0 {
		err = errors.Join(err, fmt.Errorf("%s is not executable by others", bin))
		return failf(stderr, "%v\n%s", err, moveBin)
	}
	// The account may not exist yet: then the world's search bits decide.
	pre := lookupAccount(name)
	if err := service.CanReach(bin, pre.uid, pre.gid, name); err != nil {
		return failf(stderr, "%v\n%s", err, moveBin)
	}
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		// The packaged config names the default user, whose group owns it.
		if err := service.EnsureGroup(config.Default().User); err != nil {
			return failf(stderr, "%v", err)
		}
		if err := writeDefaultConfig(cfgPath); err != nil {
			return failf(stderr, "writing %s: %v", cfgPath, err)
		}
		fmt.Fprintf(stdout, "wrote the default config to %s\n", cfgPath)
	}
	cfg, rc := loadConfig(cfgPath, stderr)
	if cfg == nil {
		return rc
	}
	if err := service.EnsureAccount(cfg.User, cfg.StateDir); err != nil {
		return failf(stderr, "%v", err)
	}
	acct, err := svcuser.Lookup(cfg.User)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	if err := service.CanReach(cfgPath, acct.UID, acct.GID, acct.Name); err != nil {
		return failf(stderr, "%v\nkeep the config where the service can read it: %s (the default)", err, config.DefaultPath)
	}
	if f := cfg.Gateway.EnvFile; f != "" {
		if rc := writeEnvFileOnce(f, acct, stdout, stderr); rc != ExitOK {
			return rc
		}
	}
	// Root's only act in the state dir: through descriptors, following no
	// link the service user could have planted there.
	if err := statedir.PrepareAsRoot(cfg.StateDir, acct); err != nil {
		return failf(stderr, "%v", err)
	}
	if runtime.GOOS == "darwin" { // launchd creates neither, unlike systemd
		if err := statedir.MkdirOwned(packaging.DarwinLogDir, acct.UID, acct.GID, 0o700); err != nil {
			return failf(stderr, "%v", err)
		}
		if err := prepareSocketDir(cfg); err != nil { // 0750, as RuntimeDirectoryMode
			return failf(stderr, "%v", err)
		}
	}
	// Rendered again: the state dir may only now be known.
	u, err := service.Render(bin, cfgPath, cfg.StateDir)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	s, err := service.New(bin, cfgPath, u)
	if err != nil {
		return failf(stderr, "%v", err)
	}
	old, err := os.ReadFile(u.Path)
	switch {
	case err == nil && bytes.Equal(old, []byte(u.Text)):
		fmt.Fprintf(stdout, "%s is installed already (unchanged)\n", u.Path)
	case err == nil: // from an older openclawd, or the binary moved
		if err := os.Remove(u.Path); err != nil {
			return failf(stderr, "replacing %s: %v", u.Path, err)
		}
		if err := s.Install(); err != nil {
			return failf(stderr, "installing the service: %v", err)
		}
		fmt.Fprintf(stdout, "updated %s (runs %s)\n", u.Path, bin)
	default:
		if err := s.Install(); err != nil {
			return failf(stderr, "installing the service: %v", err)
		}
		fmt.Fprintf(stdout, "installed %s (runs %s run --config %s); it starts at boot\n", u.Path, bin, cfgPath)
	}
	if l, changed, err := service.WriteMemoryDropIn(context.Background(), service.HostRAM()); err != nil && !errors.Is(err, service.ErrNoServiceManager) && !errors.Is(err, service.ErrNotInstalled) {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	} else if changed {
		fmt.Fprintf(stdout, "memory bounds: MemoryHigh=%dM MemoryMax=%dM, from this host's RAM (%s)\n", l.High>>20, l.Max>>20, service.MemoryDropInPath)
	}
	if runtime.GOOS == "linux" && filepath.Clean(cfg.StateDir) != config.Default().StateDir {
		fmt.Fprintf(stdout, "warning: the unit lets openclawd write only to %s (ProtectSystem=strict); for state_dir %s run `sudo systemctl edit openclawd` and add [Service] ReadWritePaths=%s\n",
			config.Default().StateDir, cfg.StateDir, cfg.StateDir)
	}
	fmt.Fprintf(stdout, "next: sudo openclawd setup --config %s\n", cfgPath)
	return ExitOK
}

// writeEnvFileOnce creates a missing env file root:<service group> 0640:
// the service reads it through its group but cannot change it. An
// existing one is left as it is (setup fixes its owner and mode).
func writeEnvFileOnce(path string, acct svcuser.Account, stdout, stderr io.Writer) int {
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return ExitOK
	}
	if err := rootOnlyDir(path, account{acct.UID, acct.GID}); err != nil {
		return failf(stderr, "%v", err)
	}
	if err := fsutil.WriteFileAtomicOwned(path, []byte(envFileHeader), 0o640, 0, acct.GID); err != nil {
		return failf(stderr, "writing %s: %v", path, err)
	}
	group := strconv.Itoa(acct.GID)
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	fmt.Fprintf(stdout, "wrote %s for API keys (root:%s 0640: the service reads it, only root changes it)\n", path, group)
	return ExitOK
}

func serviceUninstall(s *service.Service, cfgPath string, purge bool, stdout, stderr io.Writer) int {
	u := s.Unit
	if _, err := os.Stat(u.Path); err == nil {
		// kardianos' systemd Uninstall only disables: stop first. A service
		// that is not running fails to stop, which is fine.
		if err := s.Stop(); err == nil {
			fmt.Fprintln(stdout, "stopped openclawd")
		}
		if err := s.Uninstall(); err != nil {
			return failf(stderr, "uninstalling the service: %v", err)
		}
		fmt.Fprintf(stdout, "removed %s\n", u.Path)
	} else {
		fmt.Fprintf(stdout, "the service is not installed (no %s)\n", u.Path)
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
	fmt.Fprintf(stdout, "the %s user is kept (it may own files elsewhere)\n", cfg.User)
	return ExitOK
}

// envFileHeader starts an env file openclawd creates.
const envFileHeader = `# Secrets for the OpenClaw gateway, one KEY=VALUE a line (API keys, bot
# tokens). openclawd refuses this file unless it is mode 0600, or 0640
# owned by root in the service user's group (as setup writes it).
# ` + "`sudo openclawd setup --env NAME`" + ` adds one without it showing up in ps;
# changes apply at the next gateway start (` + "`sudo openclawd restart`" + `).
`

// writeDefaultConfig writes the packaged config, with the env file beside
// it, root:<service group> 0640 as the .deb ships it. The packaged config
// names the default service user.
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
	return fsutil.WriteFileAtomicOwned(path, b, 0o640, 0, lookupAccount(config.Default().User).gid)
}
