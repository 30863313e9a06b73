package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/openclawd/openclawd/statedir"
)

// reservedEnv are variables openclawd sets itself or keeps from the gateway:
// the gateway's behaviour depends on them (openclaw-gateway.md §4, §7), or
// they would let whoever writes gateway.env (the service user may own it)
// load code into the gateway or move its config out of openclawd's hands.
// Config may not set them; reservedReason also covers every LD_* and
// DYLD_* name.
var reservedEnv = map[string]string{
	"OPENCLAW_GATEWAY_PORT":          "set gateway.port instead",
	"OPENCLAW_GATEWAY_TOKEN":         "put it in gateway.env_file, or let openclawd generate one",
	"OPENCLAW_SUPERVISOR_MODE":       "openclawd owns every restart",
	"OPENCLAW_SERVICE_REPAIR_POLICY": "openclawd owns the service",
	"OPENCLAW_NO_AUTO_UPDATE":        "openclawd pins the gateway version",
	"OPENCLAW_NO_RESPAWN":            "openclawd owns every restart",
	"TMPDIR":                         "openclawd gives the gateway a private one",
	"OPENCLAW_DISABLE_BONJOUR":       "openclawd keeps the gateway off the LAN",
	"OPENCLAW_CONFIG_PATH":           "openclawd writes the gateway's config (<state_dir>/openclaw/openclaw.json) and keeps its own keys there",
	"OPENCLAW_HOME":                  "openclawd sets where the gateway keeps its state (<state_dir>/openclaw)",
	"OPENCLAW_STATE_DIR":             "openclawd sets where the gateway keeps its state (<state_dir>/openclaw)",
	"OPENCLAW_INCLUDE_ROOTS":         "it widens which files the gateway's config may include",
	"NODE_OPTIONS":                   "it can load any code into the gateway (--require, --import); the heap size is node.max_old_space_mb",
	"NODE_PATH":                      "it changes where the gateway loads modules from",
	"PATH":                           "openclawd puts the pinned Node first; another PATH chooses which programs the gateway runs",
	"HOME":                           "openclawd gives the gateway its own (<state_dir>/home)",
	"BASH_ENV":                       "every shell the gateway's tools start would run that file first",
	"LD_PRELOAD":                     "it loads a library into every program the gateway starts",
	"LD_LIBRARY_PATH":                "it changes which libraries every program the gateway starts loads",
	"LD_AUDIT":                       "it loads a library into every program the gateway starts",
	"DYLD_INSERT_LIBRARIES":          "it loads a library into every program the gateway starts",
	"DYLD_LIBRARY_PATH":              "it changes which libraries every program the gateway starts loads",
}

// Reserved reports whether name is one openclawd sets or keeps from the
// gateway (reservedReason says why).
func Reserved(name string) bool { return reservedReason(name) != "" }

// reservedReason says why name may not be set in config or the env file,
// or is "". The dynamic loaders read many more LD_* (glibc) and DYLD_*
// (macOS) variables than reservedEnv lists, so the prefixes are reserved.
func reservedReason(name string) string {
	if why := reservedEnv[name]; why != "" {
		return why
	}
	if strings.HasPrefix(name, "LD_") || strings.HasPrefix(name, "DYLD_") {
		return "the dynamic loader reads it in every program the gateway starts"
	}
	return ""
}

// SupervisorMarkers are variables a service manager sets that make the
// gateway believe it runs under systemd or launchd; they are scrubbed from
// its environment (openclaw-gateway.md §4, §7).
var SupervisorMarkers = []string{
	"INVOCATION_ID", "JOURNAL_STREAM", "SYSTEMD_EXEC_PID", "NOTIFY_SOCKET",
	"WATCHDOG_USEC", "WATCHDOG_PID", "MANAGERPID",
	"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
	"OPENCLAW_SYSTEMD_UNIT", "XPC_SERVICE_NAME", "LAUNCH_JOB_LABEL", "LAUNCH_JOB_NAME",
	"OPENCLAW_LAUNCHD_LABEL", "OPENCLAW_SERVICE_MARKER", "OPENCLAW_SERVICE_KIND",
}

// IsSupervisorMarker reports whether name must not reach the gateway.
func IsSupervisorMarker(name string) bool {
	for _, m := range SupervisorMarkers {
		if name == m {
			return true
		}
	}
	return len(name) > 7 && name[:7] == "LISTEN_" || len(name) > 11 && name[:11] == "LAUNCH_JOB_"
}

var (
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	userNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)
	versionRE  = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks values. It is fast and has no side effects; every problem
// is reported, joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{File: c.Path, Line: c.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if !filepath.IsAbs(c.StateDir) {
		bad("state_dir", "%q is not an absolute path; use e.g. /var/lib/openclawd", c.StateDir)
	}
	switch u := c.User; {
	case !userNameRE.MatchString(u):
		bad("user", "%q is not a user name; name the service account, e.g. openclawd (create it with `useradd --system openclawd`)", u)
	case c.Openclaw.InstallUser != "" && c.lines["user"] != 0 && c.Openclaw.InstallUser != u:
		bad("openclaw.install_user", "%q differs from user %q; remove openclaw.install_user (user is its new name)", c.Openclaw.InstallUser, u)
	}
	switch c.Gateway.HostTerminal {
	case "auto", "on", "off":
	default:
		bad("gateway.host_terminal", "%q is not auto, on or off", c.Gateway.HostTerminal)
	}
	if p := c.Gateway.Port; p < 1 || p > 65535 {
		bad("gateway.port", "%d is not a TCP port; use 1-65535 (default 18789)", p)
	}
	if len(c.Gateway.Command) > 0 && c.Gateway.Command[0] == "" {
		bad("gateway.command", "the first element (the program) is empty")
	}
	for k := range c.Gateway.Env {
		key := "gateway.env." + k
		switch {
		case !envName.MatchString(k):
			bad(key, "%q is not a valid environment variable name", k)
		case reservedReason(k) != "":
			bad(key, "%s is set by openclawd; %s", k, reservedReason(k))
		case IsSupervisorMarker(k):
			bad(key, "%s is a service-manager marker that changes how the gateway restarts; remove it", k)
		}
	}
	c.validateAlerts(bad)
	c.validateSpend(bad)
	c.validateMemory(bad)
	if w := c.Upgrade.StableWindow; w < 0 || w > time.Hour {
		bad("upgrade.stable_window", "%s is out of range; use 0s to 1h (default 2m)", w)
	}
	if f := c.Gateway.EnvFile; f != "" && !filepath.IsAbs(f) {
		bad("gateway.env_file", "%q is not an absolute path", f)
	}
	switch {
	case c.Node.Version != "" && !versionRE.MatchString(c.Node.Version):
		bad("node.version", "%q is not a version like 24.21.0", c.Node.Version)
	case c.Node.Version != "" && c.Node.SHA256 == "":
		bad("node.version", "an overridden version needs node.sha256 (from the release's SHASUMS256.txt for node-v%s-<os>-<arch>.tar.xz)", c.Node.Version)
	}
	if h := c.Node.SHA256; h != "" && !sha256RE.MatchString(h) {
		bad("node.sha256", "%q is not 64 hex digits", h)
	}
	if m := c.Node.Mirror; m != "" && !strings.HasPrefix(m, "https://") && !strings.HasPrefix(m, "http://") && !strings.HasPrefix(m, "file://") {
		bad("node.mirror", "%q is not an http(s):// or file:// URL", m)
	}
	if n := c.Node.MaxOldSpaceMB; n != 0 && n < 256 {
		bad("node.max_old_space_mb", "%d MB is too small for the gateway; leave it 0 to size it from RAM", n)
	}
	switch {
	case c.Openclaw.Version != "" && !versionRE.MatchString(c.Openclaw.Version):
		bad("openclaw.version", "%q is not a version like 2026.9.6", c.Openclaw.Version)
	case c.Openclaw.Version != "" && !strings.HasPrefix(c.Openclaw.Integrity, "sha512-"):
		bad("openclaw.version", "an overridden version needs openclaw.integrity (sha512-…, from `npm view openclaw@%s dist.integrity`)", c.Openclaw.Version)
	}
	switch c.TLS.Mode {
	case "off", "acme", "internal":
	default:
		bad("tls.mode", "%q is not acme, internal or off", c.TLS.Mode)
	}
	if c.TLS.CheckInterval < 0 || (c.TLS.CheckInterval > 0 && c.TLS.CheckInterval < time.Minute) {
		bad("tls.check_interval", "%s is too often for a check that every gateway connect logs; use 1m or more, or 0s to turn it off", c.TLS.CheckInterval)
	}
	if a := c.TLS.CheckAddress; a != "" && strings.ContainsAny(a, "/ ") {
		bad("tls.check_address", "%q is not a host or IP (optionally with :port)", a)
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"gateway.stop_timeout", c.Gateway.StopTimeout},
		{"restart.min_delay", c.Restart.MinDelay},
		{"restart.max_delay", c.Restart.MaxDelay},
		{"restart.stable_after", c.Restart.StableAfter},
		{"health.startup_timeout", c.Health.StartupTimeout},
		{"health.startup_interval", c.Health.StartupInterval},
		{"health.interval", c.Health.Interval},
		{"health.timeout", c.Health.Timeout},
		{"health.deep_interval", c.Health.DeepInterval},
		{"health.kill_timeout", c.Health.KillTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			bad(p.key, "%s must be a positive duration", p.d)
		}
	}
	if c.Restart.MaxDelay < c.Restart.MinDelay {
		bad("restart.max_delay", "%s is below restart.min_delay (%s)", c.Restart.MaxDelay, c.Restart.MinDelay)
	}
	if c.Health.Failures < 1 {
		bad("health.failures", "%d must be at least 1", c.Health.Failures)
	}
	if c.Logs.MaxLinesPerMinute < 1 {
		bad("logs.max_lines_per_minute", "%d must be at least 1", c.Logs.MaxLinesPerMinute)
	}
	if c.Logs.Burst < 1 {
		bad("logs.burst", "%d must be at least 1", c.Logs.Burst)
	}
	if c.Logs.FileMaxMB < 1 {
		bad("logs.file_max_mb", "%d must be at least 1", c.Logs.FileMaxMB)
	}
	if c.Logs.FileKeep < 1 {
		bad("logs.file_keep", "%d must be at least 1", c.Logs.FileKeep)
	}
	switch s := c.Control.Socket; {
	case !filepath.IsAbs(s):
		bad("control.socket", "%q is not an absolute path", s)
	case len(s) > 100: // sun_path is 104 bytes on macOS, 108 on Linux
		bad("control.socket", "%q is %d bytes; unix socket paths must stay under 100", s, len(s))
	}
	c.validateBackup(bad)
	return errors.Join(errs...)
}

// Layout is the state dir's layout (package statedir owns it).
func (c *Config) Layout() statedir.Layout { return statedir.New(c.StateDir) }

// Line returns the line of key in the file, or 0.
func (c *Config) Line(key string) int { return c.lines[key] }
