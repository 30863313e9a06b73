package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/launch"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
)

// openclawCmd runs the provisioned openclaw CLI against openclawd's
// gateway, as the service user (config key user), with the gateway's
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
	if rc, done := asServiceUser(cfg, append([]string{"openclaw", "--config", cfg.Path}, args...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	cmd, err := openclawCommand(cfg, args)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// Ctrl-C reaches openclaw through the terminal's process group; a
	// SIGTERM or SIGHUP sent to openclawd alone is passed on.
	rc, err = privdrop.Supervise(cmd, syscall.SIGTERM, syscall.SIGHUP)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: running openclaw: %v\n", err)
		return ExitFailure
	}
	return rc
}

// openclawCommand builds the command with the gateway's own launcher:
// the runtime the gateway runs (else the pinned one), its environment and
// token. It runs as this process, which is the service user: a root
// openclawd re-executed itself as that user before getting here.
func openclawCommand(cfg *config.Config, args []string) (*exec.Cmd, error) {
	rt, err := installedRuntime(cfg)
	if err != nil {
		return nil, err
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
	l, err := launch.CLI(launch.Input{Config: cfg, Runtime: &rt, FileEnv: fileEnv, Token: token}, args)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(l.Argv[0], l.Argv[1:]...)
	cmd.Env, cmd.Dir = l.Env, l.Dir
	return cmd, nil
}

// installedRuntime is the runtime `current` names (what the gateway runs),
// else the pinned versions if installed.
func installedRuntime(cfg *config.Config) (provision.Runtime, error) {
	o := daemon.RuntimeOptions(cfg, nil)
	if cur, err := provision.ReadCurrent(o.Root); err == nil && plainName(cur.Node) && plainName(cur.Openclaw) {
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

// plainName reports whether a name from current.json is one directory
// entry of the runtime dir, not a path that leaves it.
func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}
