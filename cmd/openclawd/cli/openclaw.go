package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
)

// openclawCmd runs the provisioned openclaw CLI against openclawd's
// gateway, as the user who owns the gateway's state, with the gateway's
// state dir, port and token (in the environment, never argv):
//
//	openclawd openclaw [--config PATH] devices approve <requestId>
//
// Every other argument goes to openclaw unchanged.
func openclawCmd(args []string, stdout, stderr io.Writer) int {
	cfgPath := config.DefaultPath
	switch {
	case len(args) >= 2 && args[0] == "--config":
		cfgPath, args = args[1], args[2:]
	case len(args) >= 1 && strings.HasPrefix(args[0], "--config="):
		cfgPath, args = strings.TrimPrefix(args[0], "--config="), args[1:]
	}
	cfg, rc := loadConfig(cfgPath, stderr)
	if cfg == nil {
		return rc
	}
	cmd, err := openclawCommand(cfg, args)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// Ctrl-C reaches openclaw through the terminal's process group; a
	// SIGTERM sent to openclawd alone is passed on.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "openclawd: running openclaw: %v\n", err)
		return ExitFailure
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s != os.Interrupt {
					_ = cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if ee.ExitCode() < 0 { // killed by a signal
			return 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
		return ee.ExitCode()
	case err != nil:
		fmt.Fprintf(stderr, "openclawd: running openclaw: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// openclawCommand builds the command: the runtime the gateway runs (else
// the pinned one), the gateway's environment, and its user.
func openclawCommand(cfg *config.Config, args []string) (*exec.Cmd, error) {
	rt, err := installedRuntime(cfg)
	if err != nil {
		return nil, err
	}
	state := daemon.GatewayStateDir(cfg)
	fi, err := os.Stat(state)
	if err != nil {
		return nil, fmt.Errorf("the gateway has not run yet (%v): start openclawd first (`sudo openclawd service start`)", err)
	}
	uid, gid := owner(fi)
	var cred *syscall.Credential
	switch euid := os.Geteuid(); {
	case euid == 0 && uid != 0:
		if cred, err = credentialFor(uid, gid); err != nil {
			return nil, err
		}
	case euid != 0 && euid != uid:
		return nil, fmt.Errorf("%s belongs to uid %d: run this with sudo, so openclaw runs as the gateway's user", state, uid)
	}
	var fileEnv map[string]string
	if cfg.Gateway.EnvFile != "" {
		if fileEnv, err = config.ReadEnvFile(cfg.Gateway.EnvFile); err != nil {
			return nil, err
		}
	}
	if _, ok := fileEnv["OPENCLAW_GATEWAY_TOKEN"]; !ok {
		// GatewayToken would create one, owned by us: leave that to the daemon.
		if _, err := os.Stat(cfg.TokenFile()); err != nil {
			return nil, fmt.Errorf("no gateway token yet (%v): start openclawd first", err)
		}
	}
	token, _, err := cfg.GatewayToken(fileEnv)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(cfg.StateDir, "home")
	base := map[string]string{"PATH": filepath.Join(rt.Node.Dir, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		base["USER"], base["LOGNAME"] = u.Username, u.Username
	}
	// The gateway's environment, plus what a terminal needs.
	env := daemon.GatewayEnv(cfg, base, fileEnv, token, []string{"TERM", "COLUMNS", "LINES", "NO_COLOR", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
		"NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"})
	cmd := exec.Command(rt.Node.Bin(), append([]string{rt.Openclaw.Launcher()}, args...)...)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Dir = home
	if _, err := os.Stat(home); err != nil {
		cmd.Dir = state
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd, nil
}

// installedRuntime is the runtime `current` names (what the gateway runs),
// else the pinned versions if installed.
func installedRuntime(cfg *config.Config) (provision.Runtime, error) {
	o := daemon.RuntimeOptions(cfg, nil)
	if cur, err := provision.ReadCurrent(o.Root); err == nil && cur.Node != "" && cur.Openclaw != "" {
		rt := provision.Runtime{
			Node:     node.Install{Dir: filepath.Join(o.Root, cur.Node)},
			Openclaw: openclaw.Install{Dir: filepath.Join(o.Root, cur.Openclaw)},
		}
		if _, err := os.Stat(rt.Openclaw.Launcher()); err == nil {
			return rt, nil
		}
	}
	n, okN := node.Find(o.Node)
	oc, okO := openclaw.Find(o.Openclaw)
	if !okN || !okO {
		return provision.Runtime{}, fmt.Errorf("openclaw is not installed under %s yet: start openclawd (it installs the runtime) or run `sudo openclawd runtime install`", o.Root)
	}
	return provision.Runtime{Node: n, Openclaw: oc}, nil
}

// credentialFor is uid with gid and uid's own supplementary groups, not
// root's.
func credentialFor(uid, gid int) (*syscall.Credential, error) {
	c := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return c, nil // a uid without a name: no supplementary groups
	}
	if g, err := strconv.Atoi(u.Gid); err == nil {
		c.Gid = uint32(g)
	}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				c.Groups = append(c.Groups, uint32(g))
			}
		}
	}
	return c, nil
}
