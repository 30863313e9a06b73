package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/launch"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
)

// OpenclawCommand builds the command with the gateway's own launcher:
// the runtime the gateway runs (else the pinned one), its environment and
// token. It runs as this process, which is the service user: a root
// openclawd re-executed itself as that user before getting here.
func OpenclawCommand(cfg *config.Config, args []string) (*exec.Cmd, error) {
	return openclawCommand(cfg, nil, args)
}

// openclawCommand is OpenclawCommand with another runtime's CLI (an
// upgrade's target); nil is the installed one.
func openclawCommand(cfg *config.Config, rt *provision.Runtime, args []string) (*exec.Cmd, error) {
	if rt == nil {
		r, err := InstalledRuntime(cfg)
		if err != nil {
			return nil, err
		}
		rt = &r
	}
	if _, err := os.Stat(cfg.Layout().Gateway()); err != nil {
		return nil, fmt.Errorf("the gateway has not run yet (%v): start openclawd first (`sudo openclawd service start`)", err)
	}
	fileEnv, err := cfg.ReadEnv()
	if err != nil {
		return nil, err
	}
	if _, ok := fileEnv["OPENCLAW_GATEWAY_TOKEN"]; !ok {
		// GatewayToken would create one: leave that to the daemon.
		if _, err := os.Lstat(cfg.TokenFile()); err != nil {
			return nil, fmt.Errorf("no gateway token yet (%v): start openclawd first", err)
		}
	}
	token, _, err := cfg.GatewayToken(fileEnv)
	if err != nil {
		return nil, err
	}
	l, err := launch.CLI(launch.Input{Config: cfg, Runtime: rt, FileEnv: fileEnv, Token: token}, args)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(l.Argv[0], l.Argv[1:]...)
	cmd.Env, cmd.Dir = l.Env, l.Dir
	return cmd, nil
}

// InstalledRuntime is the runtime `current` names (what the gateway runs),
// else the pinned versions if installed.
func InstalledRuntime(cfg *config.Config) (provision.Runtime, error) {
	o := RuntimeOptions(cfg, nil)
	if cur, err := provision.ReadCurrent(o.Root); err == nil && provision.PlainName(cur.Node) && provision.PlainName(cur.Openclaw) {
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
