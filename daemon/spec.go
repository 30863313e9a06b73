package daemon

import (
	"context"
	"maps"
	"path/filepath"
	"slices"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/launch"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/supervisor"
)

// writeGatewayConfig keeps openclawd's keys in the gateway's openclaw.json.
func (d *Daemon) writeGatewayConfig(cfg *config.Config) error {
	l := cfg.Layout()
	if err := l.Ensure(); err != nil {
		return err
	}
	ch, err := openclaw.WriteConfig(l.GatewayConfig(), openclaw.Owned{
		Port: cfg.Gateway.Port, LogFile: filepath.Join(l.GatewayLogs(), "openclaw.log"), Origins: cfg.TLS.Origins(),
		Terminal: openclaw.TerminalSetting(cfg.Gateway.HostTerminal, cfg.TLS.Mode),
	})
	if err != nil {
		return err
	}
	if ch.RemovedToken {
		d.log.Warn("removed gateway.auth.token from openclaw.json: openclawd passes the token in OPENCLAW_GATEWAY_TOKEN, and two sources drift apart; `openclawd token` prints it")
	}
	if ch.Written {
		d.gwWatch.refresh()
		d.log.Info("gateway config updated", "file", l.GatewayConfig())
	}
	return nil
}

// spec builds the gateway's command and its whole environment. It runs
// before every start, so env-file edits apply at the next restart.
func (d *Daemon) spec(ctx context.Context) (supervisor.Spec, error) {
	cfg := d.config()
	fileEnv, err := cfg.ReadEnv()
	if err != nil {
		return supervisor.Spec{}, err
	}
	token, src, err := cfg.GatewayToken(fileEnv)
	if err != nil {
		return supervisor.Spec{}, err
	}
	// Every value of the env file is an API key or the like: none may
	// reach the log (the set ignores values too short to be secrets).
	d.secrets.Update(append(slices.Collect(maps.Values(fileEnv)), token)...)
	d.mu.Lock()
	d.token, d.tokenSrc = token, src
	d.mu.Unlock()
	in := launch.Input{Config: cfg, FileEnv: fileEnv, Token: token}
	if len(cfg.Gateway.Command) == 0 {
		rt, err := d.prov.ensure(ctx, cfg, d.log.With("component", "runtime"))
		if err != nil {
			return supervisor.Spec{}, err
		}
		in.Runtime = &rt
	}
	if err := d.writeGatewayConfig(cfg); err != nil {
		return supervisor.Spec{}, err
	}
	l, err := launch.Gateway(in)
	if err != nil {
		return supervisor.Spec{}, err
	}
	return supervisor.Spec{
		Argv:   l.Argv,
		Env:    l.Env,
		Dir:    l.Dir,
		TmpDir: cfg.Layout().GatewayTmp(),
		// Bounded (about 40 MB per Node version, §2) and what makes a
		// restart fast; everything else in TMPDIR goes (#153607).
		KeepInTmp: []string{"node-compile-cache"},
	}, nil
}
