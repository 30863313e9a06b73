// Package launch builds how the gateway starts, and how the openclaw CLI
// starts against it: the argv, the whole environment and the working
// directory. The daemon and `openclawd openclaw` use this one builder, so a
// CLI run sees exactly the gateway's state dir, port, token and settings.
//
// Credentials are not chosen here but checked: both run as the service
// user, because a root openclawd re-executes itself as that user
// (internal/privdrop) before it builds anything. CheckUser refuses to build
// a launch as root unless the config says user: root.
package launch

import (
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
)

// Input is what a launch is built from.
type Input struct {
	Config *config.Config
	// Runtime is the provisioned Node and openclaw; nil runs
	// gateway.command instead (custom builds, tests).
	Runtime *provision.Runtime
	FileEnv map[string]string // gateway.env_file's variables
	Token   string
}

// Spec is one process to start: the complete environment, nothing
// inherited.
type Spec struct {
	Argv []string
	Env  []string // sorted KEY=VALUE
	Dir  string
}

// systemPath follows the pinned node's bin directory on PATH.
const systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// gatewayPass are the only variables of openclawd's own environment the
// gateway inherits: locale, time zone, outbound proxies and their CA.
var gatewayPass = []string{
	"LANG", "LC_ALL", "LC_CTYPE", "TZ", "NODE_EXTRA_CA_CERTS",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// cliPass adds what a terminal needs to the gateway's.
var cliPass = append([]string{"TERM", "COLUMNS", "LINES", "NO_COLOR"}, gatewayPass...)

// CheckUser refuses to launch anything as root unless the config asks for
// it: the gateway runs an AI agent with tools.
func CheckUser(cfg *config.Config) error {
	if os.Geteuid() == 0 && cfg.User != "root" {
		return fmt.Errorf("refusing to run the gateway as root: it runs as the service user %q (config key user); start openclawd as root and it switches to that user, or set user: root to accept the risk", cfg.User)
	}
	return nil
}

// Gateway is the gateway's launch: the pinned node by absolute path with a
// heap sized from RAM, bound to loopback with Tailscale off
// (openclaw-gateway.md §3, §8), or gateway.command.
func Gateway(in Input) (Spec, error) {
	if err := CheckUser(in.Config); err != nil {
		return Spec{}, err
	}
	cfg := in.Config
	argv, path := slices.Clone(cfg.Gateway.Command), systemPath
	base, small := map[string]string{}, []string(nil)
	if in.Runtime != nil {
		ram := totalRAMMB()
		heap := openclaw.HeapMB(ram, cfg.Node.MaxOldSpaceMB)
		argv = append([]string{in.Runtime.Node.Bin(), fmt.Sprintf("--max-old-space-size=%d", heap)}, openclaw.SmallHostNodeFlags(ram)...)
		argv = append(argv, in.Runtime.Openclaw.Launcher(),
			"gateway", "run", "--port", strconv.Itoa(cfg.Gateway.Port), "--bind", "loopback", "--tailscale", "off")
		path = filepath.Join(in.Runtime.Node.Dir, "bin") + ":" + path // its own node and npm first
		small = openclaw.SmallHostEnv(ram)
	}
	if len(argv) == 0 {
		return Spec{}, fmt.Errorf("nothing to run: no runtime and no gateway.command")
	}
	home := cfg.Layout().Home()
	base["PATH"], base["HOME"] = path, home
	base["NO_COLOR"] = "1" // no ANSI colour in logs: the gateway colours even a pipe (§11)
	env := Env(cfg, base, in.FileEnv, in.Token, gatewayPass)
	// The small-host profile (docs/memory.md): what gateway.env or the env
	// file does not set itself.
	for _, kv := range small {
		if k, v, _ := strings.Cut(kv, "="); env[k] == "" {
			env[k] = v
		}
	}
	return Spec{Argv: argv, Env: envList(env), Dir: home}, nil
}

// CLI is `node openclaw.mjs args…` with the gateway's environment plus
// what a terminal needs, in the gateway's HOME.
func CLI(in Input, args []string) (Spec, error) {
	if err := CheckUser(in.Config); err != nil {
		return Spec{}, err
	}
	if in.Runtime == nil {
		return Spec{}, fmt.Errorf("openclaw is not installed (gateway.command runs something else)")
	}
	home := in.Config.Layout().Home()
	env := Env(in.Config, map[string]string{
		"PATH": filepath.Join(in.Runtime.Node.Dir, "bin") + ":" + systemPath,
		"HOME": home,
	}, in.FileEnv, in.Token, cliPass)
	argv := append([]string{in.Runtime.Node.Bin(), in.Runtime.Openclaw.Launcher()}, args...)
	return Spec{Argv: argv, Env: envList(env), Dir: home}, nil
}

// Env is the whole environment: base (PATH, HOME, …), the user's name and
// the pass variables of openclawd's own environment, the env file,
// gateway.env, and last the variables openclawd owns, so that neither the
// env file nor gateway.env can change them. Service-manager markers are
// removed. (config refuses the names openclawd reserves in both sources;
// dropping them here is the second line of defence.)
func Env(cfg *config.Config, base, fileEnv map[string]string, token string, pass []string) map[string]string {
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
	// What config refuses (config.Reserved) goes, should it get here, and
	// so do service-manager markers and openclawd's own secrets (OPENCLAWD_*:
	// backup credentials are not the agent's); openclawd's own values come last.
	backupKeys := map[string]bool{}
	for _, t := range cfg.Backup.Targets {
		a, s := t.Keys()
		backupKeys[a], backupKeys[s] = true, true
	}
	for k := range env {
		if config.Reserved(k) || config.IsSupervisorMarker(k) || strings.HasPrefix(k, "OPENCLAWD_") || backupKeys[k] {
			delete(env, k)
		}
	}
	maps.Copy(env, base) // PATH and HOME are openclawd's
	// openclawd owns restarts, updates and the service (§4, §7).
	maps.Copy(env, map[string]string{
		"OPENCLAW_GATEWAY_PORT":          strconv.Itoa(cfg.Gateway.Port),
		"OPENCLAW_GATEWAY_TOKEN":         token,
		"OPENCLAW_SUPERVISOR_MODE":       "external",
		"OPENCLAW_SERVICE_REPAIR_POLICY": "external",
		"OPENCLAW_NO_AUTO_UPDATE":        "1",
		"OPENCLAW_DISABLE_BONJOUR":       "1", // no mDNS: nothing but the port, on loopback
		"TMPDIR":                         cfg.Layout().GatewayTmp(),
		"OPENCLAW_STATE_DIR":             cfg.Layout().Gateway(),
	})
	return env
}

func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		list = append(list, k+"="+env[k])
	}
	return list
}
