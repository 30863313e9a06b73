package daemon

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/supervisor"
)

// writeGatewayConfig keeps openclawd's keys in the gateway's openclaw.json.
func (d *Daemon) writeGatewayConfig(cfg *config.Config) error {
	dir := GatewayStateDir(cfg)
	logDir := filepath.Join(cfg.LogDir(), "gateway")
	for _, p := range []string{dir, logDir} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
	}
	ch, err := openclaw.WriteConfig(filepath.Join(dir, "openclaw.json"), openclaw.Owned{
		Port: cfg.Gateway.Port, LogFile: filepath.Join(logDir, "openclaw.log"), Origins: cfg.TLS.Origins(),
	})
	if err != nil {
		return err
	}
	if ch.RemovedToken {
		d.log.Warn("removed gateway.auth.token from openclaw.json: openclawd passes the token in OPENCLAW_GATEWAY_TOKEN, and two sources drift apart; `openclawd token` prints it")
	}
	if ch.Written {
		d.gwWatch.refresh()
		d.log.Info("gateway config updated", "file", filepath.Join(dir, "openclaw.json"))
	}
	return nil
}

// passThrough are the only variables of openclawd's own environment the
// gateway inherits: locale, time zone and outbound proxies.
var passThrough = []string{
	"LANG", "LC_ALL", "LC_CTYPE", "TZ", "NODE_EXTRA_CA_CERTS",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// GatewayEnv is the whole environment of the gateway, or of the openclaw
// CLI talking to it: base (PATH, HOME, …), the user and the pass
// variables of openclawd's own environment, the env file, gateway.env,
// and last the variables openclawd owns, so that neither the env file nor
// gateway.env can change them. Service-manager markers are removed.
func GatewayEnv(cfg *config.Config, base, fileEnv map[string]string, token string, pass []string) map[string]string {
	env := maps.Clone(base)
	if u, err := user.Current(); err == nil && env["USER"] == "" {
		env["USER"], env["LOGNAME"] = u.Username, u.Username
	}
	for _, k := range pass {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	maps.Copy(env, fileEnv)
	maps.Copy(env, cfg.Gateway.Env)
	// openclawd owns restarts, updates and the service (§4, §7).
	maps.Copy(env, map[string]string{
		"OPENCLAW_GATEWAY_PORT":          strconv.Itoa(cfg.Gateway.Port),
		"OPENCLAW_GATEWAY_TOKEN":         token,
		"OPENCLAW_SUPERVISOR_MODE":       "external",
		"OPENCLAW_SERVICE_REPAIR_POLICY": "external",
		"OPENCLAW_NO_AUTO_UPDATE":        "1",
		"OPENCLAW_DISABLE_BONJOUR":       "1", // no mDNS: nothing but the port, on loopback
		"TMPDIR":                         cfg.GatewayTmpDir(),
		"OPENCLAW_STATE_DIR":             GatewayStateDir(cfg),
	})
	delete(env, "OPENCLAW_NO_RESPAWN")
	for k := range env {
		if config.IsSupervisorMarker(k) {
			delete(env, k)
		}
	}
	return env
}

// spec builds the gateway's command and its whole environment. It runs
// before every start, so env-file edits apply at the next restart.
func (d *Daemon) spec(ctx context.Context) (supervisor.Spec, error) {
	cfg := d.config()
	var fileEnv map[string]string
	if cfg.Gateway.EnvFile != "" {
		var err error
		if fileEnv, err = config.ReadEnvFile(cfg.Gateway.EnvFile); err != nil {
			return supervisor.Spec{}, err
		}
	}
	token, src, err := cfg.GatewayToken(fileEnv)
	if err != nil {
		return supervisor.Spec{}, err
	}
	d.mu.Lock()
	d.token, d.tokenSrc = token, src
	d.mu.Unlock()
	argv, path := slices.Clone(cfg.Gateway.Command), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if len(argv) == 0 {
		rt, err := d.prov.ensure(ctx, cfg, d.log.With("component", "runtime"))
		if err != nil {
			return supervisor.Spec{}, err
		}
		argv = gatewayArgv(rt, cfg)
		path = filepath.Join(rt.Node.Dir, "bin") + ":" + path // the gateway's own node and npm first
	}
	if err := d.writeGatewayConfig(cfg); err != nil {
		return supervisor.Spec{}, err
	}
	home := filepath.Join(cfg.StateDir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return supervisor.Spec{}, fmt.Errorf("creating gateway home: %w", err)
	}
	env := GatewayEnv(cfg, map[string]string{
		"PATH": path,
		"HOME": home,
		// No ANSI colour in logs: the gateway colours even a pipe (§11).
		"NO_COLOR": "1",
	}, fileEnv, token, passThrough)
	list := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		list = append(list, k+"="+env[k])
	}
	return supervisor.Spec{
		Argv:   argv,
		Env:    list,
		Dir:    home,
		TmpDir: cfg.GatewayTmpDir(),
		// Bounded (about 40 MB per Node version, §2) and what makes a
		// restart fast; everything else in TMPDIR goes (#153607).
		KeepInTmp: []string{"node-compile-cache"},
	}, nil
}
