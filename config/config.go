// Package config is openclawd's own configuration: the types, their
// defaults (kept in one place, Default), strict YAML decoding that names the
// file, line and key of every mistake, and Validate.
//
// The gateway's openclaw.json is not configured here; openclawd only owns a
// few keys of it (see the runtime packages).
package config

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultPath is where the service looks for its config file:
// /etc/openclawd/openclawd.yaml, or Homebrew's etc on macOS.
var DefaultPath = defaultPath()

// etcPath is the config's place on Linux, and on macOS without Homebrew.
const etcPath = "/etc/openclawd/openclawd.yaml"

// Config is the whole openclawd.yaml. Each field's comment states its default.
type Config struct {
	// StateDir is where openclawd keeps everything it writes (default /var/lib/openclawd).
	StateDir string `yaml:"state_dir"`
	// User is the service user (default "openclawd", "_openclawd" on
	// macOS). It owns state_dir; an openclawd started as root runs as this
	// user, and so do the gateway, npm and every command that touches
	// state_dir. "root" keeps everything as root, loudly: the gateway runs
	// an AI agent with tools, and root is the last account it should have.
	User     string   `yaml:"user"`
	Gateway  Gateway  `yaml:"gateway"`
	Node     Node     `yaml:"node"`
	Openclaw Openclaw `yaml:"openclaw"`
	Restart  Restart  `yaml:"restart"`
	Health   Health   `yaml:"health"`
	Logs     Logs     `yaml:"logs"`
	Control  Control  `yaml:"control"`
	TLS      TLS      `yaml:"tls"`
	Backup   Backup   `yaml:"backup"`
	Upgrade  Upgrade  `yaml:"upgrade"`
	Alerts   Alerts   `yaml:"alerts"`
	Spend    Spend    `yaml:"spend"`
	Memory   Memory   `yaml:"memory"`

	// Path is the file this was read from ("" for defaults). Not a YAML key.
	Path string `yaml:"-"`
	// lines maps a dotted key path to its line in Path, for error messages.
	lines map[string]int
}

// Gateway configures the supervised OpenClaw gateway process.
type Gateway struct {
	// Port the gateway listens on, on 127.0.0.1 and ::1 only (default 18789).
	Port int `yaml:"port"`
	// Command, when set, is run instead of the provisioned openclaw (custom
	// builds, tests). It gets the port in OPENCLAW_GATEWAY_PORT and the token
	// in OPENCLAW_GATEWAY_TOKEN, as the real gateway reads them.
	Command []string `yaml:"command"`
	// Env is extra environment for the gateway (default none).
	Env map[string]string `yaml:"env"`
	// EnvFile is a KEY=VALUE secrets file (API keys, bot tokens), refused if
	// group- or world-readable (default none).
	EnvFile string `yaml:"env_file"`
	// HostTerminal is the gateway's host terminal (gateway.terminal.enabled,
	// a shell for operator.admin clients): "auto" turns it off while HTTPS
	// exposes the gateway and leaves it to openclaw.json otherwise, "on"
	// and "off" set it (default auto).
	HostTerminal string `yaml:"host_terminal"`
	// StopTimeout is how long a stop waits after SIGTERM before SIGKILL
	// (default 330s: the gateway's own stop policy, which it logs at start
	// as "drain=315000ms … policy=330000ms"; idle, it stops in under 2 s).
	StopTimeout time.Duration `yaml:"stop_timeout"`
}

// Node selects the Node.js runtime openclawd provisions for the gateway.
type Node struct {
	// Version overrides the pinned Node version (default: the pin compiled
	// into openclawd). An override needs SHA256.
	Version string `yaml:"version"`
	// SHA256 of node-v<version>-<os>-<arch>.tar.xz; required with Version,
	// and overrides the pin for a mirror that serves rebuilt tarballs.
	SHA256 string `yaml:"sha256"`
	// Mirror is a base URL with the official layout (/vX.Y.Z/node-vX.Y.Z-<os>-<arch>.tar.xz),
	// http(s):// or file:// (default https://nodejs.org/dist; the
	// OPENCLAWD_NODE_MIRROR environment variable overrides both).
	Mirror string `yaml:"mirror"`
	// MaxOldSpaceMB is the gateway's V8 heap limit (default 0: sized from
	// the host's RAM as the official unit does).
	MaxOldSpaceMB int `yaml:"max_old_space_mb"`
}

// Openclaw selects the openclaw npm package.
type Openclaw struct {
	// Version overrides the pinned openclaw version (default: the pin).
	// An override needs Integrity.
	Version string `yaml:"version"`
	// Integrity is the npm dist.integrity (sha512-…) of the openclaw tarball.
	Integrity string `yaml:"integrity"`
	// InstallUser is the old name of the top-level user key, still read
	// from configs written before it (default "": use user).
	InstallUser string `yaml:"install_user"`
}

// Restart is the restart policy after the gateway exits.
type Restart struct {
	// MinDelay is the backoff after the second crash in a row; the first
	// crash restarts at once (default 1s).
	MinDelay time.Duration `yaml:"min_delay"`
	// MaxDelay caps the backoff (default 2m: a start costs ~8 CPU-seconds).
	MaxDelay time.Duration `yaml:"max_delay"`
	// StableAfter is how long the gateway must be up and healthy before the
	// crash count resets (default 5m).
	StableAfter time.Duration `yaml:"stable_after"`
}

// Health configures the probes of the gateway.
type Health struct {
	// StartupTimeout bounds the wait for /startupz to say "started" (default 120s).
	StartupTimeout time.Duration `yaml:"startup_timeout"`
	// StartupInterval is the /startupz poll period (default 250ms).
	StartupInterval time.Duration `yaml:"startup_interval"`
	// Interval is the liveness period (default 10s).
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one check (default 5s).
	Timeout time.Duration `yaml:"timeout"`
	// Failures is how many consecutive failed checks mean hung (default 3).
	Failures int `yaml:"failures"`
	// Deep keeps one WebSocket to the gateway and checks its ticks and the
	// health RPC (default true).
	Deep *bool `yaml:"deep"`
	// DeepInterval is the health RPC period on that socket (default 60s).
	DeepInterval time.Duration `yaml:"deep_interval"`
	// KillTimeout is the SIGTERM grace for a hung gateway before SIGKILL
	// (default 1s: a deadlocked or stopped process ignores SIGTERM, and
	// the hang was already detected over failures × interval).
	KillTimeout time.Duration `yaml:"kill_timeout"`
}

// Logs bounds what the gateway's output costs.
type Logs struct {
	// MaxLinesPerMinute is the rate limit of gateway lines (default 120).
	MaxLinesPerMinute int `yaml:"max_lines_per_minute"`
	// Burst is how many lines may pass at once (default 60).
	Burst int `yaml:"burst"`
	// FileMaxMB is the size of one log file before rotation (default 10).
	FileMaxMB int `yaml:"file_max_mb"`
	// FileKeep is how many rotated files are kept (default 5).
	FileKeep int `yaml:"file_keep"`
}

// TLS configures the embedded Caddy in front of the gateway.
type TLS struct {
	// Mode is acme (public certificates), internal (Caddy's local CA) or
	// off (no listener: reach the gateway over SSH or Tailscale) (default off).
	Mode string `yaml:"mode"`
	// Domain lists the names served (acme, internal): one name, or a list.
	Domain Names `yaml:"domain"`
	// Email is the ACME account contact (acme).
	Email string `yaml:"email"`
	// ACMECA overrides the ACME directory URL (staging, tests).
	ACMECA string `yaml:"acme_ca"`
	// ACMECARoot is a PEM file trusted for the ACME CA (tests).
	ACMECARoot string `yaml:"acme_ca_root"`
	// HTTPPort serves redirects and http-01 (default 80).
	HTTPPort int `yaml:"http_port"`
	// HTTPSPort serves the gateway over TLS (default 443).
	HTTPSPort int `yaml:"https_port"`
	// Listen is the address to bind (default all addresses).
	Listen string `yaml:"listen"`
	// CheckInterval is how often openclawd makes a wss:// handshake through
	// its own front end, as a remote client would (default 1h; 0 disables).
	CheckInterval time.Duration `yaml:"check_interval"`
	// CheckAddress is the host or IP that check dials instead of the name's
	// DNS address, e.g. a LAN address where the router does not hairpin.
	CheckAddress string `yaml:"check_address"`
}

// Origins are the https:// origins of the served names, for the gateway's
// gateway.controlUi.allowedOrigins.
func (t TLS) Origins() []string {
	if t.Mode != "acme" && t.Mode != "internal" {
		return nil
	}
	var out []string
	for _, d := range t.Domain {
		o := "https://" + d
		if t.HTTPSPort != 0 && t.HTTPSPort != 443 {
			o += ":" + strconv.Itoa(t.HTTPSPort)
		}
		out = append(out, o)
	}
	return out
}

// Control configures the local control API.
type Control struct {
	// Socket is the unix socket path (default /run/openclawd/openclawd.sock
	// on Linux, /var/run/openclawd/openclawd.sock on macOS).
	Socket string `yaml:"socket"`
	// Group may read status through the socket (default "openclawd", if
	// that group exists).
	Group string `yaml:"group"`
}

// Default returns the configuration with every default applied.
func Default() *Config {
	deep := true
	return &Config{
		StateDir: "/var/lib/openclawd",
		User:     defaultUser,
		Gateway: Gateway{
			Port:         18789,
			HostTerminal: "auto",
			StopTimeout:  330 * time.Second,
		},
		Restart: Restart{
			MinDelay:    time.Second,
			MaxDelay:    2 * time.Minute,
			StableAfter: 5 * time.Minute,
		},
		Health: Health{
			StartupTimeout:  120 * time.Second,
			StartupInterval: 250 * time.Millisecond,
			Interval:        10 * time.Second,
			Timeout:         5 * time.Second,
			Failures:        3,
			Deep:            &deep,
			DeepInterval:    60 * time.Second,
			KillTimeout:     time.Second,
		},
		Logs: Logs{
			MaxLinesPerMinute: 120,
			Burst:             60,
			FileMaxMB:         10,
			FileKeep:          5,
		},
		Control: Control{
			Socket: defaultSocket,
			Group:  "openclawd",
		},
		TLS:     TLS{Mode: "off", HTTPPort: 80, HTTPSPort: 443, CheckInterval: time.Hour},
		Backup:  Backup{Every: 24 * time.Hour, Keep: Keep{Last: 3, Daily: 7, Weekly: 4, Monthly: 6}, Recipients: []string{}, Targets: []BackupTarget{}},
		Upgrade: Upgrade{StableWindow: 2 * time.Minute},
		Alerts: Alerts{Notify: []Notify{}, Grace: 2 * time.Minute, ResolveAfter: time.Minute, MinInterval: 30 * time.Second,
			Heartbeat: Heartbeat{Every: 5 * time.Minute}},
		Spend:  Spend{Interval: time.Minute},
		Memory: Memory{RestartAbove: "auto", Quiet: 30 * time.Second, Interval: 30 * time.Second},
	}
}

// Upgrade configures `openclawd upgrade` and `rollback`.
type Upgrade struct {
	// StableWindow is how long the gateway must stay up, with no crash,
	// after it first answers healthy, before an upgrade counts as done
	// (default 2m).
	StableWindow time.Duration `yaml:"stable_window"`
}

// DeepProbe reports whether the WebSocket probe is on.
func (h Health) DeepProbe() bool { return h.Deep == nil || *h.Deep }

// Names is a list of names that may be written as a single scalar
// ("domain: example.com") as well as a list: a one-name list is the
// common case and refusing the scalar form only teaches YAML syntax.
type Names []string

const namesHint = "write one name (domain: bot.example.com) or a list of names (domain: [bot.example.com, www.bot.example.com])"

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (n *Names) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		if v.Tag == "!!null" || v.Value == "" {
			*n = nil
			return nil
		}
		*n = Names{v.Value}
		return nil
	}
	var l []string
	if v.Kind != yaml.SequenceNode || v.Decode(&l) != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", v.Line, namesHint)}}
	}
	*n = l
	return nil
}
