package daemon

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/supervisor"
)

// passThrough are the only variables of openclawd's own environment the
// gateway inherits: locale, time zone and outbound proxies.
var passThrough = []string{
	"LANG", "LC_ALL", "LC_CTYPE", "TZ",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// spec builds the gateway's command and its whole environment. It runs
// before every start, so env-file edits apply at the next restart.
func (d *Daemon) spec() (supervisor.Spec, error) {
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
	if len(cfg.Gateway.Command) == 0 {
		return supervisor.Spec{}, errors.New("gateway.command is not set, and this build of openclawd cannot provision the openclaw runtime yet; set gateway.command to the gateway's argv")
	}
	home := filepath.Join(cfg.StateDir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return supervisor.Spec{}, fmt.Errorf("creating gateway home: %w", err)
	}
	env := map[string]string{
		"PATH":   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME":   home,
		"TMPDIR": cfg.GatewayTmpDir(),
		// No ANSI colour in logs: the gateway colours even a pipe (§11).
		"NO_COLOR": "1",
		// openclawd owns restarts, updates and the service (§4, §7).
	}
	if u, err := user.Current(); err == nil {
		env["USER"], env["LOGNAME"] = u.Username, u.Username
	}
	for _, k := range passThrough {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	maps.Copy(env, fileEnv)
	maps.Copy(env, cfg.Gateway.Env)
	// Last, so neither the env file nor gateway.env can change them:
	// openclawd owns restarts, updates and the service (§4, §7).
	maps.Copy(env, map[string]string{
		"OPENCLAW_GATEWAY_PORT":          strconv.Itoa(cfg.Gateway.Port),
		"OPENCLAW_GATEWAY_TOKEN":         token,
		"OPENCLAW_SUPERVISOR_MODE":       "external",
		"OPENCLAW_SERVICE_REPAIR_POLICY": "external",
		"OPENCLAW_NO_AUTO_UPDATE":        "1",
		"OPENCLAW_DISABLE_BONJOUR":       "1", // no mDNS: nothing but the port, on loopback
		"TMPDIR":                         cfg.GatewayTmpDir(),
	})
	delete(env, "OPENCLAW_NO_RESPAWN")
	for k := range env {
		if config.IsSupervisorMarker(k) {
			delete(env, k)
		}
	}
	list := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		list = append(list, k+"="+env[k])
	}
	return supervisor.Spec{
		Argv:   slices.Clone(cfg.Gateway.Command),
		Env:    list,
		Dir:    home,
		TmpDir: cfg.GatewayTmpDir(),
	}, nil
}
